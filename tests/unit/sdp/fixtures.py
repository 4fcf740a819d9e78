"""Session descriptions as real user agents send them, and broken ones."""

from __future__ import annotations

SIPP_UAC = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)

BARESIP = (
    "v=0\r\n"
    "o=- 1723190263 3016339010 IN IP4 192.168.1.50\r\n"
    "s=-\r\n"
    "c=IN IP4 192.168.1.50\r\n"
    "t=0 0\r\n"
    "a=tool:baresip 3.10.1\r\n"
    "m=audio 10612 RTP/AVP 9 0 8 101\r\n"
    "b=AS:64\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=sendrecv\r\n"
    "a=label:1\r\n"
    "a=rtcp-rsize\r\n"
    "a=ssrc:1391442383 cname:c8a6d8a0-9d0c-4f8e-b1c4-0e5f1a8f2b2d\r\n"
    "a=ptime:20\r\n"
)

# LF-only line endings, as linphone writes them into some logs and tests.
LINPHONE = (
    "v=0\n"
    "o=alice 3136 1540 IN IP4 192.168.0.12\n"
    "s=Talk\n"
    "c=IN IP4 192.168.0.12\n"
    "t=0 0\n"
    "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\n"
    "a=record:off\n"
    "m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\n"
    "a=rtpmap:96 opus/48000/2\n"
    "a=fmtp:96 useinbandfec=1\n"
    "a=rtpmap:97 speex/16000\n"
    "a=fmtp:97 vbr=on\n"
    "a=rtpmap:98 speex/8000\n"
    "a=fmtp:98 vbr=on\n"
    "a=fmtp:18 annexb=yes\n"
    "a=rtpmap:101 telephone-event/48000\n"
    "a=rtpmap:99 telephone-event/16000\n"
    "a=rtpmap:100 telephone-event/8000\n"
    "a=rtcp:7079\n"
    "a=rtcp-fb:* trr-int 1000\n"
    "a=rtcp-fb:* ccm tmmbr\n"
    "m=video 9078 RTP/AVP 96\n"
    "a=rtpmap:96 VP8/90000\n"
    "a=rtcp-fb:* trr-int 1000\n"
    "a=rtcp-fb:96 nack pli\n"
)

CISCO_VIDEO = (
    "v=0\r\n"
    "o=CiscoSystemsCCM-SIP 2000 1 IN IP4 10.10.10.1\r\n"
    "s=SIP Call\r\n"
    "c=IN IP4 10.10.20.5\r\n"
    "b=TIAS:6000000\r\n"
    "b=AS:6000\r\n"
    "t=0 0\r\n"
    "m=audio 24580 RTP/AVP 114 9 104 105 0 8 18 96\r\n"
    "b=TIAS:64000\r\n"
    "a=rtpmap:114 opus/48000/2\r\n"
    "a=fmtp:114 maxplaybackrate=16000;sprop-maxcapturerate=16000;maxaveragebitrate=64000\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:104 G7221/16000\r\n"
    "a=fmtp:104 bitrate=32000\r\n"
    "a=rtpmap:105 G7221/16000\r\n"
    "a=fmtp:105 bitrate=24000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:18 G729/8000\r\n"
    "a=fmtp:18 annexb=no\r\n"
    "a=rtpmap:96 telephone-event/8000\r\n"
    "a=fmtp:96 0-15\r\n"
    "m=video 24582 RTP/AVP 126 97\r\n"
    "b=TIAS:6000000\r\n"
    "a=label:11\r\n"
    "a=rtpmap:126 H264/90000\r\n"
    "a=fmtp:126 profile-level-id=42801E;packetization-mode=1;max-mbps=245000\r\n"
    "a=rtpmap:97 H264/90000\r\n"
    "a=fmtp:97 profile-level-id=42801E;packetization-mode=0;max-mbps=245000\r\n"
    "a=rtcp-fb:* nack pli\r\n"
    "a=content:main\r\n"
    "a=sendrecv\r\n"
    "m=application 5070 UDP/BFCP *\r\n"
    "a=floorctrl:c-s\r\n"
    "a=confid:1\r\n"
)

# An RFC 2543 hold: connection address 0.0.0.0 (RFC 3264 §8.4).
OLD_STYLE_HOLD = (
    "v=0\r\n"
    "o=- 100 2 IN IP4 192.0.2.7\r\n"
    "s=-\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "t=0 0\r\n"
    "m=audio 4000 RTP/AVP 8 0\r\n"
)

# The example of RFC 4566 §5, with every optional line type.
RFC4566_EXAMPLE = (
    "v=0\r\n"
    "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
    "s=SDP Seminar\r\n"
    "i=A Seminar on the session description protocol\r\n"
    "u=http://www.example.com/seminars/sdp.pdf\r\n"
    "e=j.doe@example.com (Jane Doe)\r\n"
    "c=IN IP4 224.2.17.12/127\r\n"
    "t=2873397496 2873404696\r\n"
    "r=7d 1h 0 25h\r\n"
    "a=recvonly\r\n"
    "m=audio 49170 RTP/AVP 0\r\n"
    "m=video 51372 RTP/AVP 99\r\n"
    "a=rtpmap:99 h263-1998/90000\r\n"
)

#: (description, 1-based line number the error names, words the message has)
HOSTILE: list[tuple[str, int | None, str]] = [
    ("", None, "empty session description"),
    ("\r\n\r\n", None, "empty session description"),
    ("o=- 1 1 IN IP4 1.2.3.4\r\n", 1, "expected 'v=0'"),
    ("v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n", 1, "expected 'v=0'"),
    ("v=0\r\ns=-\r\nt=0 0\r\n", None, "missing o= line"),
    ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nt=0 0\r\n", None, "missing s= line"),
    ("v=0\r\no=- 1 IN IP4 1.2.3.4\r\ns=-\r\n", 2, "invalid o= line"),
    ("v=0\r\no=- x 1 IN IP4 1.2.3.4\r\ns=-\r\n", 2, "invalid session id 'x'"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\no=- 1 1 IN IP4 h\r\n", 3, "repeated o= line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio x RTP/AVP 0\r\n", 4, "invalid m= line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n", 4, "port must be 0-65535"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5000 RTP/AVP abc\r\n", 4, "not a payload type"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5000 RTP/AVP 128\r\n", 4, "not a payload type"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5000 RTP/AVP\r\n", 4, "no media formats"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio\r\n", 4, "invalid m= line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n", 5, "rtpmap"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5 RTP/AVP 0\r\na=rtpmap:x A/1\r\n", 5, "payload"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5 RTP/AVP 0\r\na=ptime:fast\r\n", 5, "ptime"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5 RTP/AVP 0\r\na=rtcp:99999\r\n", 5, "rtcp"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5 RTP/AVP 0\r\na=fmtp:\r\n", 5, "payload"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n", 4, "invalid c= line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 a\r\nc=IN IP4 b\r\n", 5, "second c= line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nb=AS\r\n", 4, "invalid b= line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=now 0\r\n", 4, "invalid start time"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nr=7d 1h 0\r\n", 4, "before any t= line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\ngarbage\r\n", 4, "not a '<type>=<value>' line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nA=b\r\n", 4, "not a '<type>=<value>' line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\na=\r\n", 4, "empty attribute name"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\na=x\x00y\r\n", 4, "control character"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\na=x\ry\r\n", 4, "control character"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nv=0\r\n", 4, "repeated v= line"),
    ("v=0\r\no=- " + "9" * 5000 + " 1 IN IP4 h\r\ns=-\r\n", 2, "invalid session id"),
]
