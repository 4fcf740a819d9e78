"""SDP offer/answer for audio calls (RFC 3264).

The engine speaks G.711 -- PCMU (payload type 0) and PCMA (8) -- plus
RFC 4733 ``telephone-event`` for DTMF on whatever dynamic payload type the
peer picks.  :func:`build_offer` makes our offer (§5), :func:`negotiate`
answers a peer's offer (§6), :func:`parse_answer` reads the answer to our
offer (§7).  Both of the latter give a :class:`NegotiatedMedia` with the
parameters the media layer needs.

Hold (§8.4) is an offer with ``sendonly`` or ``inactive``, or the RFC 2543
style connection address ``0.0.0.0``; :attr:`NegotiatedMedia.is_hold` says
whether the offer of the exchange was such a hold offer.  The session version
in ``o=`` must grow by one with every new description a side sends (§8);
:func:`next_version` gives that number.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final, Literal

from callvault.sdp.attributes import (
    DIRECTIONS,
    INACTIVE,
    RECVONLY,
    SENDONLY,
    SENDRECV,
    Attribute,
    RtpMap,
    intersect_directions,
    reverse_direction,
)
from callvault.sdp.errors import NegotiationError, NoCommonCodecError
from callvault.sdp.session import (
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

#: Codecs the engine can encode and decode, with their static payload types.
AUDIO_CODECS: Final[dict[str, int]] = {"PCMU": 0, "PCMA": 8}
TELEPHONE_EVENT: Final = "telephone-event"
#: Events we receive: DTMF 0-9, *, #, A-D and flash (RFC 4733 §3.2).
TELEPHONE_EVENTS: Final = "0-16"
DEFAULT_PTIME: Final = 20
CLOCK_RATE: Final = 8000
SESSION_NAME: Final = "callvault"
HOLD_ADDRESS: Final = "0.0.0.0"
_AUDIO_PROTOS: Final = ("RTP/AVP", "RTP/AVPF")

Preference = Literal["offerer order", "local order"]


@dataclass(frozen=True, slots=True)
class NegotiatedMedia:
    """The outcome of one offer/answer exchange for the audio stream.

    ``direction`` is seen from our side (``sendonly`` means we send and do not
    receive).  ``payload_type`` and ``telephone_event_pt`` are what we send
    with; ``local_telephone_event_pt`` is what we declared to receive DTMF on
    (they differ only when the answer renumbered the dynamic payload type).
    """

    local_sdp: SessionDescription
    remote_sdp: SessionDescription
    we_offered: bool
    media_index: int
    remote_address: str
    remote_port: int
    remote_rtcp_address: str
    remote_rtcp_port: int
    codec: str
    payload_type: int
    clock_rate: int
    telephone_event_pt: int | None
    local_telephone_event_pt: int | None
    ptime: int
    direction: str
    is_hold: bool

    @property
    def offer(self) -> SessionDescription:
        """The offer of this exchange."""
        return self.local_sdp if self.we_offered else self.remote_sdp

    @property
    def answer(self) -> SessionDescription:
        """The answer of this exchange."""
        return self.remote_sdp if self.we_offered else self.local_sdp

    @property
    def sends(self) -> bool:
        """Whether we send RTP to the peer."""
        return self.direction in (SENDRECV, SENDONLY)

    @property
    def receives(self) -> bool:
        """Whether we expect RTP from the peer."""
        return self.direction in (SENDRECV, RECVONLY)


def new_session_id() -> int:
    """A fresh ``sess-id`` for ``o=`` (RFC 4566 §5.2 leaves the choice to us)."""
    return secrets.randbits(62)


def next_version(previous: SessionDescription) -> int:
    """The ``sess-version`` for our next description after ``previous`` (RFC 3264 §8)."""
    return previous.origin.session_version + 1


def is_unchanged(previous: SessionDescription, current: SessionDescription) -> bool:
    """Whether a peer re-sent the same description (same ``o=`` id and version, §8)."""
    return (
        previous.origin.session_id == current.origin.session_id
        and previous.origin.session_version == current.origin.session_version
    )


def _addrtype(address: str) -> str:
    return "IP6" if ":" in address else "IP4"


def _session(
    address: str,
    media: tuple[MediaDescription, ...],
    *,
    session_id: int,
    session_version: int,
    username: str,
    timings: tuple[Timing, ...] = (Timing(),),
) -> SessionDescription:
    addrtype = _addrtype(address)
    return SessionDescription(
        origin=Origin(username, session_id, session_version, "IN", addrtype, address),
        session_name=SESSION_NAME,
        connection=Connection(address, "IN", addrtype),
        timings=timings,
        media=media,
    )


def _audio_media(
    port: int,
    codecs: list[tuple[int, str]],
    dtmf_pt: int | None,
    ptime: int,
    direction: str,
    proto: str = "RTP/AVP",
) -> MediaDescription:
    formats = [str(pt) for pt, _ in codecs]
    attributes = [
        Attribute("rtpmap", RtpMap(pt, name, CLOCK_RATE).serialize()) for pt, name in codecs
    ]
    if dtmf_pt is not None:
        formats.append(str(dtmf_pt))
        attributes.append(
            Attribute("rtpmap", RtpMap(dtmf_pt, TELEPHONE_EVENT, CLOCK_RATE).serialize())
        )
        attributes.append(Attribute("fmtp", f"{dtmf_pt} {TELEPHONE_EVENTS}"))
    attributes.append(Attribute("ptime", str(ptime)))
    attributes.append(Attribute(direction))
    return MediaDescription("audio", port, proto, tuple(formats), attributes=tuple(attributes))


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r} (expected one of {DIRECTIONS})")


def build_offer(
    address: str,
    port: int,
    codecs: tuple[str, ...] = ("PCMU", "PCMA"),
    dtmf_pt: int | None = 101,
    direction: str = SENDRECV,
    *,
    session_id: int,
    session_version: int,
    ptime: int = DEFAULT_PTIME,
    username: str = "-",
) -> SessionDescription:
    """Our offer of one audio stream (RFC 3264 §5).

    ``direction="sendonly"`` (or ``"inactive"``) in a re-INVITE puts the call
    on hold (§8.4); ``dtmf_pt=None`` leaves out telephone-event.
    """
    _check_direction(direction)
    unknown = [c for c in codecs if c.upper() not in AUDIO_CODECS]
    if unknown or not codecs:
        raise ValueError(f"unsupported codecs {unknown or codecs!r} (have {list(AUDIO_CODECS)})")
    if dtmf_pt is not None and not 96 <= dtmf_pt <= 127:
        raise ValueError(f"telephone-event payload type {dtmf_pt} is not dynamic (96-127)")
    pairs = [(AUDIO_CODECS[c.upper()], c.upper()) for c in codecs]
    media = _audio_media(port, pairs, dtmf_pt, ptime, direction)
    return _session(
        address,
        (media,),
        session_id=session_id,
        session_version=session_version,
        username=username,
    )


def _codec_candidates(media: MediaDescription, names: tuple[str, ...]) -> list[tuple[int, str]]:
    """Offered (payload type, codec name) pairs we support, in the media's order."""
    found: list[tuple[int, str]] = []
    for pt in media.payload_types:
        codec = media.codec(pt)
        if codec is None or codec.clock_rate != CLOCK_RATE or codec.channels not in (None, 1):
            continue
        name = codec.encoding.upper()
        if name in names and all(name != n for _, n in found):
            found.append((pt, name))
    return found


def _telephone_event_pt(media: MediaDescription) -> int | None:
    for pt in media.payload_types:
        codec = media.codec(pt)
        if codec and codec.encoding.lower() == TELEPHONE_EVENT and codec.clock_rate == CLOCK_RATE:
            return pt
    return None


def _rejected(media: MediaDescription) -> MediaDescription:
    """An answer line refusing a stream: port 0, formats echoed (RFC 3264 §6)."""
    return MediaDescription(media.media, 0, media.proto, media.formats)


def _remote_endpoint(sdp: SessionDescription, media: MediaDescription) -> tuple[str, str, int]:
    """(rtp address, rtcp address, rtcp port) of a peer's media section."""
    connection = sdp.connection_for(media)
    if connection is None:
        raise NegotiationError(f"{media.media} stream has no c= line (RFC 4566 §5.7)")
    address = connection.address.split("/")[0]
    rtcp = media.rtcp
    if rtcp is None:
        return address, address, media.port + 1
    return address, rtcp.address or address, rtcp.port


def _is_usable_audio(media: MediaDescription) -> bool:
    return media.media == "audio" and media.port != 0 and media.proto.upper() in _AUDIO_PROTOS


def negotiate(
    offer: SessionDescription,
    local_address: str,
    local_port: int,
    supported: tuple[str, ...] = ("PCMA", "PCMU"),
    prefer: Preference = "offerer order",
    *,
    session_id: int,
    session_version: int,
    direction: str = SENDRECV,
    ptime: int = DEFAULT_PTIME,
    username: str = "-",
) -> NegotiatedMedia:
    """Answer a peer's offer (RFC 3264 §6); raise :class:`NegotiationError` if we cannot.

    The first RTP/AVP audio stream with a supported codec is accepted with one
    codec -- the offerer's first supported one, or with ``prefer="local
    order"`` the first of ``supported`` the offer has -- plus telephone-event
    if offered.  Every other stream is refused with port 0.  ``direction`` is
    what we want locally (``sendonly`` to hold from our side); the answer is
    the intersection with the reverse of the offer's (§6.1).
    """
    _check_direction(direction)
    if prefer not in ("offerer order", "local order"):
        raise ValueError(f"unknown preference {prefer!r}")
    names = tuple(n.upper() for n in supported)
    answer_media: list[MediaDescription] = []
    chosen: tuple[int, MediaDescription, int, str] | None = None
    saw_audio = False
    for index, media in enumerate(offer.media):
        if chosen is None and _is_usable_audio(media):
            saw_audio = True
            candidates = _codec_candidates(media, names)
            if prefer == "local order":
                candidates.sort(key=lambda c: names.index(c[1]))
            if candidates:
                chosen = (index, media, *candidates[0])
                answer_media.append(media)  # replaced below
                continue
        answer_media.append(_rejected(media))
    if chosen is None:
        offered = ", ".join(f"m={m.m_line()}" for m in offer.media) or "no media"
        if saw_audio:
            raise NoCommonCodecError(
                f"no common audio codec: offer has {offered}, we support {names}"
            )
        raise NegotiationError(f"offer has no usable RTP/AVP audio stream ({offered})")

    index, media, pt, codec = chosen
    address, rtcp_address, rtcp_port = _remote_endpoint(offer, media)
    offer_direction = offer.direction_for(media)
    is_hold = offer_direction in (SENDONLY, INACTIVE) or address == HOLD_ADDRESS
    if address == HOLD_ADDRESS:
        # RFC 3264 §8.4: send neither RTP nor RTCP to 0.0.0.0.
        offer_direction = intersect_directions(offer_direction, SENDONLY)
    answer_direction = intersect_directions(reverse_direction(offer_direction), direction)
    te_pt = _telephone_event_pt(media)
    answer_media[index] = _audio_media(
        local_port, [(pt, codec)], te_pt, ptime, answer_direction, proto=media.proto
    )
    answer = _session(
        local_address,
        tuple(answer_media),
        session_id=session_id,
        session_version=session_version,
        username=username,
        timings=offer.timings,
    )
    return NegotiatedMedia(
        local_sdp=answer,
        remote_sdp=offer,
        we_offered=False,
        media_index=index,
        remote_address=address,
        remote_port=media.port,
        remote_rtcp_address=rtcp_address,
        remote_rtcp_port=rtcp_port,
        codec=codec,
        payload_type=pt,
        clock_rate=CLOCK_RATE,
        telephone_event_pt=te_pt,
        local_telephone_event_pt=te_pt,
        ptime=media.ptime or DEFAULT_PTIME,
        direction=answer_direction,
        is_hold=is_hold,
    )


def parse_answer(offer_we_sent: SessionDescription, answer: SessionDescription) -> NegotiatedMedia:
    """Read the peer's answer to our offer (RFC 3264 §7).

    Raise :class:`NegotiationError` when the answer breaks §6 (different
    number of m= lines) and :class:`NoCommonCodecError` when it refuses the audio
    stream or names none of the codecs we offered.
    """
    if len(answer.media) != len(offer_we_sent.media):
        raise NegotiationError(
            f"answer has {len(answer.media)} m= lines, the offer had "
            f"{len(offer_we_sent.media)} (RFC 3264 §6)"
        )
    index = next((i for i, m in enumerate(offer_we_sent.media) if _is_usable_audio(m)), None)
    if index is None:
        raise NegotiationError("our offer has no audio stream")
    ours, theirs = offer_we_sent.media[index], answer.media[index]
    if theirs.media != ours.media:
        raise NegotiationError(f"answer m= line {index + 1} is {theirs.media!r}, offered 'audio'")
    if theirs.port == 0:
        raise NoCommonCodecError("answer refused the audio stream (port 0)")
    offered_names = tuple(name for _, name in _codec_candidates(ours, tuple(AUDIO_CODECS)))
    candidates = _codec_candidates(theirs, offered_names)
    if not candidates:
        raise NoCommonCodecError(f"answer m={theirs.m_line()} names none of the offered codecs")
    pt, codec = candidates[0]
    address, rtcp_address, rtcp_port = _remote_endpoint(answer, theirs)
    our_direction = offer_we_sent.direction_for(ours)
    our_address = offer_we_sent.connection_for(ours)
    is_hold = our_direction in (SENDONLY, INACTIVE) or (
        our_address is not None and our_address.address == HOLD_ADDRESS
    )
    direction = intersect_directions(our_direction, reverse_direction(answer.direction_for(theirs)))
    local_te_pt = _telephone_event_pt(ours)
    if address == HOLD_ADDRESS:
        direction = intersect_directions(direction, RECVONLY)
    return NegotiatedMedia(
        local_sdp=offer_we_sent,
        remote_sdp=answer,
        we_offered=True,
        media_index=index,
        remote_address=address,
        remote_port=theirs.port,
        remote_rtcp_address=rtcp_address,
        remote_rtcp_port=rtcp_port,
        codec=codec,
        payload_type=pt,
        clock_rate=CLOCK_RATE,
        telephone_event_pt=_telephone_event_pt(theirs) if local_te_pt is not None else None,
        local_telephone_event_pt=local_te_pt,
        ptime=theirs.ptime or DEFAULT_PTIME,
        direction=direction,
        is_hold=is_hold,
    )
