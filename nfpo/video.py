"""Headless rendering of policies: MuJoCo offscreen through EGL, frames, MP4/GIF files.

- ``VideoWriter``: frames -> MP4 (imageio + imageio-ffmpeg, which ships its own ffmpeg) or GIF.
- ``render_env``: a gymnasium env in ``rgb_array`` mode, tuned for CPU rendering: no MSAA,
  shadows, reflections or skybox: 9.6-21x faster per frame with Mesa's software EGL on the
  2-core CPU machine (``benchmarks/render``). The camera is the
  task's default; where it names a ``trackbodyid`` (gymnasium's locomotion tasks) it
  follows that body.
- ``frame``: one RGB frame of such an env (the camera follows the tracked body).
- ``check_renderer``: a probe render in a child process with a timeout, so a missing or
  broken EGL gives a clear error instead of a crash or a hang.

Episodes are run by ``nfpo.evaluate.run_episodes`` (``video=`` / ``render=``); the report's
still strip is ``nfpo.report.summary.still_strip``.

``MUJOCO_GL`` defaults to ``egl`` (set before MuJoCo is first imported); osmesa and glfw did
not work headless on the reference machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from nfpo.errors import NfpoError

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless: EGL (effective if mujoco is not
    # imported yet; nfpo.envs sets the same default before it imports any MuJoCo task)

VIDEO_SUFFIXES = (".mp4", ".gif")


class RenderError(NfpoError):
    """Offscreen rendering is not available (missing EGL, an env without ``rgb_array``)."""


_PROBE = """
import gymnasium as gym
env = gym.make("Hopper-v5", render_mode="rgb_array", width=64, height=48)
env.reset(seed=0)
img = env.render()
assert img.shape == (48, 64, 3), img.shape
print("ok")
"""


@cache
def check_renderer(timeout: float = 120.0) -> None:
    """Raise ``RenderError`` (with the fix) unless a probe render succeeds within ``timeout``
    seconds in a child process."""
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    try:
        p = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                           timeout=timeout, env=env)
        ok, detail = p.returncode == 0 and "ok" in p.stdout, (p.stderr or p.stdout)[-600:]
    except subprocess.TimeoutExpired:
        ok, detail = False, f"the probe render did not finish in {timeout:.0f} s"
    if not ok:
        raise RenderError(
            f"MuJoCo offscreen rendering (MUJOCO_GL={env['MUJOCO_GL']}) failed: "
            f"{' '.join(detail.split())}\nOn Debian/Ubuntu install EGL with: "
            "sudo apt-get install -y libegl1 libgl1-mesa-dri (scripts/setup.sh --video does "
            "it); on a machine with a display you can try MUJOCO_GL=glfw.")


def render_env(env_id: str, kwargs: dict[str, Any], width: int = 480, height: int = 360,
               perturb: Any = None) -> Any:
    """The task in ``rgb_array`` mode with CPU-friendly render settings."""
    import gymnasium as gym

    from nfpo.envs import make_env

    if env_id not in gym.registry:
        raise RenderError(f"{env_id} is not a gymnasium task: only gymnasium MuJoCo tasks render "
                          "(EnvPool-only tasks such as the MuJoCo Playground robots do not)")
    try:
        env = make_env(env_id, {**kwargs, "render_mode": "rgb_array", "width": width,
                                "height": height}, perturb)
    except NfpoError as e:
        raise RenderError(f"{env_id} cannot render frames (no rgb_array render mode with "
                          f"width/height): {e}") from None
    model = getattr(env.unwrapped, "model", None)
    if model is not None:  # before the first render creates the GL context
        model.vis.quality.offsamples = 0
        model.vis.quality.shadowsize = 0
    return env


def frame(env: Any) -> np.ndarray:
    """One RGB frame ``[H, W, 3]`` uint8. On first use it turns off reflections and skybox;
    where the task's camera config names a ``trackbodyid`` the camera's look-at point follows
    that body in x and y (gymnasium resets its camera to a free camera at every render)."""
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    viewer = getattr(renderer, "viewer", None) if renderer is not None else None
    if renderer is not None and viewer is None:
        env.render()  # creates the viewer and its GL context
        viewer = renderer.viewer
    if viewer is not None:
        if not getattr(viewer, "_nfpo_tuned", False):
            import mujoco

            viewer.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            viewer.scn.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = 0
            viewer._nfpo_track = (renderer.default_cam_config or {}).get("trackbodyid")
            viewer._nfpo_tuned = True
        if viewer._nfpo_track is not None:
            viewer.cam.lookat[:2] = env.unwrapped.data.xpos[int(viewer._nfpo_track)][:2]
    return np.asarray(env.render())


class VideoWriter:
    """Append frames, ``close()`` writes the file (MP4 through ffmpeg, or GIF)."""

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise RenderError(f"video file {self.path} must end in one of {VIDEO_SUFFIXES}")
        self.fps = float(fps)
        self.frames: list[np.ndarray] = []

    def append(self, img: np.ndarray) -> None:
        self.frames.append(np.asarray(img, dtype=np.uint8))

    def close(self) -> Path:
        imageio = _imageio()

        if not self.frames:
            raise RenderError(f"no frames to write to {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".tmp_{self.path.name}")
        if self.path.suffix.lower() == ".mp4":
            # macro_block_size 1: any frame size; yuv420p for players that need it
            with imageio.get_writer(tmp, format="FFMPEG", fps=self.fps, codec="libx264",
                                    macro_block_size=1, pixelformat="yuv420p",
                                    output_params=["-crf", "23"]) as w:
                for f in self.frames:
                    w.append_data(f)
        else:
            imageio.mimsave(tmp, self.frames, format="GIF", duration=1000.0 / self.fps, loop=0)
        os.replace(tmp, self.path)
        return self.path


def read_video(path: str | Path) -> np.ndarray:
    """All frames of a video ``[T, H, W, 3]`` (for tests and checks)."""
    imageio = _imageio()

    fmt = "FFMPEG" if Path(path).suffix.lower() == ".mp4" else "GIF"
    with imageio.get_reader(path, format=fmt) as r:
        return np.stack([np.asarray(f)[..., :3] for f in r])


def _imageio() -> Any:
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise RenderError("videos need imageio and imageio-ffmpeg: pip install 'nfpo[video]'"
                          ) from None
    return imageio


def frame_stride(env: Any, target_fps: float = 30.0) -> tuple[int, float]:
    """(render every k-th step, resulting video fps) so that the video plays in real time at
    about ``target_fps``; the env's step rate comes from ``metadata["render_fps"]``."""
    fps = float(env.metadata.get("render_fps") or 1.0 / getattr(env.unwrapped, "dt", 1 / 30))
    k = max(1, round(fps / target_fps))
    return k, fps / k
