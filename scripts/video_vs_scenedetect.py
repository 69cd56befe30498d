#!/usr/bin/env python3
"""pixtape video against PySceneDetect: cut precision and recall, and speed.

Needs ffmpeg, a built pixtape (target/release/pixtape) and PySceneDetect:
    python3 -m venv venv && venv/bin/pip install scenedetect opencv-python-headless
    venv/bin/python scripts/video_vs_scenedetect.py WORKDIR

It makes, in WORKDIR:
  * hard.mp4: the 10 bundled photos, 3 s each, hard cuts (9 cuts);
  * fades.mp4: the same photos with a 1 s fade to black and 1 s in at each join;
  * quickfades.mp4: the same with 0.5 s fades (shorter than two sampled frames);
  * openboard's wannaworktogether.mp4, a real 3-minute animation, fetched
    with `apt-get download openboard-common` (Debian); it has no known cuts,
    so for it the two tools are scored against each other;
  * speed.mp4: 64 s of 1080p at 30 fps (8 moving test patterns, 8 s each).
A found cut matches a true one within 0.25 s (one sampled frame at 4 fps);
each true cut matches at most one found cut.
"""

import csv
import glob
import os
import subprocess
import sys
import time

from scenedetect import ContentDetector, detect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIXTAPE = os.path.join(ROOT, "target", "release", "pixtape")
PHOTOS = sorted(glob.glob(os.path.join(ROOT, "assets", "photos", "*.jpg")))
TOLERANCE = 0.25


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-y", "-hide_banner", "-loglevel", "error", *args], check=True)


def photo_clip(dest, seconds, fade):
    inputs, graph = [], ""
    for i, p in enumerate(PHOTOS):
        inputs += ["-loop", "1", "-framerate", "25", "-t", str(seconds), "-i", p]
        f = f",fade=t=in:st=0:d={fade},fade=t=out:st={seconds - fade}:d={fade}" if fade else ""
        graph += f"[{i}]scale=640:360:force_original_aspect_ratio=increase,crop=640:360,setsar=1{f}[v{i}];"
    graph += "".join(f"[v{i}]" for i in range(len(PHOTOS))) + f"concat=n={len(PHOTOS)}:v=1,format=yuv420p"
    ffmpeg(*inputs, "-filter_complex", graph, "-c:v", "libx264", "-preset", "veryfast", dest)
    return [seconds * i for i in range(1, len(PHOTOS))]


def speed_clip(dest):
    sources = ["testsrc2", "mandelbrot", "smptehdbars", "life=mold=10:ratio=0.3:life_color=#ffcc00",
               "cellauto=rule=110", "rgbtestsrc", "gradients=speed=0.05", "testsrc"]
    inputs, graph = [], ""
    for i, s in enumerate(sources):
        name, _, opts = s.partition("=")
        opts = (opts + ":" if opts else "") + "s=1920x1080:r=30"
        inputs += ["-f", "lavfi", "-i", f"{name}={opts}"]
        graph += f"[{i}]trim=duration=8,setpts=PTS-STARTPTS,format=yuv420p,setsar=1[v{i}];"
    graph += "".join(f"[v{i}]" for i in range(len(sources))) + f"concat=n={len(sources)}:v=1"
    ffmpeg(*inputs, "-filter_complex", graph, "-c:v", "libx264", "-preset", "veryfast", dest)


def scenedetect_cuts(path):
    return [s[0].get_seconds() for s in detect(path, ContentDetector())[1:]]


def pixtape_cuts(paths, out):
    subprocess.run([PIXTAPE, "video", *paths, "--out", out, "--device", "cpu", "--quiet"], check=True)
    cuts = {}
    with open(os.path.join(out, "cues.csv")) as f:
        for row in csv.DictReader(f):
            h, m, s = row["in"].split(":")
            t = int(h) * 3600 + int(m) * 60 + float(s)
            if t > 0:
                cuts.setdefault(row["video_id"], []).append(t)
    return cuts


def score(found, truth):
    left, hits = list(truth), 0
    for f in found:
        near = [t for t in left if abs(t - f) <= TOLERANCE]
        if near:
            left.remove(min(near, key=lambda t: abs(t - f)))
            hits += 1
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall, len(found)


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else "video-bench"
    os.makedirs(work, exist_ok=True)
    clips = {
        "hard.mp4": photo_clip(os.path.join(work, "hard.mp4"), 3.0, 0),
        "fades.mp4": photo_clip(os.path.join(work, "fades.mp4"), 4.0, 1.0),
        "quickfades.mp4": photo_clip(os.path.join(work, "quickfades.mp4"), 4.0, 0.5),
    }
    real = glob.glob(os.path.join(work, "**", "wannaworktogether.mp4"), recursive=True)
    if not real:
        subprocess.run(["apt-get", "download", "openboard-common"], cwd=work, check=True)
        deb = glob.glob(os.path.join(work, "openboard-common_*.deb"))[0]
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(work, "openboard")], check=True)
        real = glob.glob(os.path.join(work, "**", "wannaworktogether.mp4"), recursive=True)
    paths = [os.path.join(work, c) for c in clips] + real[:1]
    ours = pixtape_cuts(paths, os.path.join(work, "out"))
    print("| clip | true cuts | pixtape P / R (cuts) | PySceneDetect P / R (cuts) |")
    print("| --- | --- | --- | --- |")
    for name, truth in clips.items():
        p = score(ours.get(name, []), truth)
        s = score(scenedetect_cuts(os.path.join(work, name)), truth)
        print(f"| {name} | {len(truth)} | {p[0]:.2f} / {p[1]:.2f} ({p[2]}) | {s[0]:.2f} / {s[1]:.2f} ({s[2]}) |")
    theirs = scenedetect_cuts(real[0])
    agree = score(ours.get("wannaworktogether.mp4", []), theirs)
    print(f"| wannaworktogether.mp4 (against PySceneDetect's {len(theirs)} cuts) | - | "
          f"{agree[0]:.2f} / {agree[1]:.2f} ({agree[2]}) | reference |")

    speed = os.path.join(work, "speed.mp4")
    if not os.path.exists(speed):
        speed_clip(speed)
    seconds = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                                    "csv=p=0", speed], capture_output=True, text=True, check=True).stdout)
    t = time.perf_counter()
    subprocess.run([PIXTAPE, "video", speed, "--out", os.path.join(work, "out-speed"), "--device", "cpu"], check=True)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(["scenedetect", "-q", "-i", speed, "detect-content"], check=True)
    theirs_s = time.perf_counter() - t
    t = time.perf_counter()
    ffmpeg("-i", speed, "-vf", "fps=4,scale=w='if(gte(iw,ih),-2,256)':h='if(gte(iw,ih),256,-2)':flags=area",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null")
    decode_s = time.perf_counter() - t
    print(f"speed.mp4 ({seconds:.0f} s, 1920x1080, 30 fps): pixtape video {seconds / ours_s:.1f} s of video/s "
          f"({ours_s:.1f} s), scenedetect detect-content {seconds / theirs_s:.1f} s/s ({theirs_s:.1f} s), "
          f"FFmpeg's sampled decode alone {decode_s:.1f} s ({100 * decode_s / ours_s:.0f}% of pixtape's time)")


if __name__ == "__main__":
    main()
