/* The recording player: wavesurfer.js drawing the stored peaks over the streamed audio.
 * Space plays/pauses, ←/→ move 5 s (unless typing in a field); speed and split lanes. */
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("recording-data").textContent);
  const player = data.player;
  const container = document.getElementById("waveform");
  if (!player || !container || typeof WaveSurfer === "undefined") return;

  const audio = document.getElementById("player-audio");
  const playButton = document.getElementById("play");
  const clock = document.getElementById("clock");
  const split = document.getElementById("split");
  const lanes = [{ waveColor: "#4a7ab5", progressColor: "#1d3f6e" },
                 { waveColor: "#c27c2c", progressColor: "#7a4a12" }];

  const format = (seconds) => {
    const total = Math.max(0, Math.round(seconds || 0));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  };

  const ws = WaveSurfer.create({
    container,
    media: audio,
    url: player.audio,
    peaks: player.peaks.length ? player.peaks : undefined,
    duration: player.duration,
    height: player.stereo ? 56 : 96,
    waveColor: "#4a7ab5",
    progressColor: "#1d3f6e",
    cursorColor: "#b3261e",
    cursorWidth: 2,
    normalize: true,
    dragToSeek: true,
    splitChannels: player.stereo ? lanes : undefined,
  });
  window.callvaultPlayer = ws;

  const duration = () => ws.getDuration() || player.duration || 0;
  const tick = () => {
    const now = ws.getCurrentTime();
    clock.textContent = format(now) + " / " + format(duration());
    container.setAttribute("aria-valuenow", now.toFixed(1));
    container.setAttribute("aria-valuetext", format(now) + " / " + format(duration()));
  };
  const showState = (playing) => {
    const label = playing ? playButton.dataset.pause : playButton.dataset.play;
    playButton.setAttribute("aria-label", label);
    playButton.innerHTML = (playing ? "❚❚ " : "▶ ") + "<span></span>";
    playButton.querySelector("span").textContent = label;
  };
  const seek = (delta) => ws.setTime(Math.min(duration(), Math.max(0, ws.getCurrentTime() + delta)));

  ws.on("timeupdate", tick);
  ws.on("ready", tick);
  ws.on("play", () => showState(true));
  ws.on("pause", () => showState(false));
  ws.on("finish", () => showState(false));

  playButton.addEventListener("click", () => ws.playPause());
  document.getElementById("back").addEventListener("click", () => seek(-5));
  document.getElementById("forward").addEventListener("click", () => seek(5));
  document.getElementById("speed").addEventListener("change", (event) => {
    ws.setPlaybackRate(parseFloat(event.target.value), true);
  });
  if (split) {
    split.addEventListener("change", () => {
      container.classList.toggle("stereo", split.checked);
      ws.setOptions({ splitChannels: split.checked ? lanes : undefined,
                      height: split.checked ? 56 : 96 });
    });
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target.closest && target.closest("input, textarea, select, button, a, [contenteditable]");
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === " " || event.code === "Space") {
      event.preventDefault();
      ws.playPause();
    } else if (event.key === "ArrowLeft") {
      event.preventDefault();
      seek(-5);
    } else if (event.key === "ArrowRight") {
      event.preventDefault();
      seek(5);
    }
  });
})();
