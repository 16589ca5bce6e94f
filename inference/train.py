"""Train a learned engine's network on a PPR10K-layout folder and write it into a model directory.

    python -m inference.train MODEL --data DIR --expert a --out MODEL_DIR [--steps N] [--seed S]
                              [--device auto|cpu|cuda] [--version V]

MODEL is one of :func:`inference.models.names`. The training split's 360p pairs are read with
:class:`inference.datasets.PPR10KFolder`, resized to the model's training size and kept in memory.
Each step draws its batch (and any synthetic degradation or crop) from a generator seeded by
``(seed, step)`` alone, so on CPU a run is deterministic and a resumed run draws exactly the batches
an uninterrupted one would. Adam with a cosine learning-rate decay to 10 %.

Output: ``MODEL_DIR/MODEL/VERSION/weights.safetensors`` and ``card.json`` (see
:mod:`inference.modelstore`); VERSION defaults to the next integer. While training, checkpoints
(model and optimiser state, safetensors too) live in ``MODEL_DIR/MODEL/.VERSION.training/``; run the
same command again to resume an interrupted run from its last checkpoint.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference import modelstore
from inference.datasets import EXPERTS, PPR10KFolder
from inference.models import create, names
from inference.models.common import Model, seeded, validation

CHECKPOINT = "checkpoint.safetensors"
PROGRESS = "progress.json"
MIN_LR_FRACTION = 0.1


def pick_device(choice: str) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda but no CUDA device is available")
        return torch.device("cuda")
    return torch.device("cpu")


def learning_rate(base: float, step: int, steps: int) -> float:
    """Cosine decay from ``base`` to ``MIN_LR_FRACTION · base`` over ``steps``."""
    t = min(1.0, step / max(1, steps))
    return base * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + np.cos(np.pi * t)))


def _next_version(engine_dir: Path) -> str:
    taken = [int(p.name.lstrip(".").split(".")[0]) for p in engine_dir.glob("*")
             if p.name.lstrip(".").split(".")[0].isdigit()] if engine_dir.is_dir() else []
    return str(max(taken, default=0) + 1)


def _unfinished(engine_dir: Path) -> str | None:
    """The version of an interrupted run in ``engine_dir`` (a checkpoint folder, no card), if any."""
    if not engine_dir.is_dir():
        return None
    for work in sorted(engine_dir.glob(".*.training")):
        version = work.name[1:-len(".training")]
        if (work / CHECKPOINT).is_file() and not (engine_dir / version / modelstore.CARD).is_file():
            return version
    return None


def commit_id() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def manifest_hash(root: Path) -> str | None:
    path = root / "manifest.json"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


# --- checkpoints: model + Adam state as safetensors, the rest as JSON ---------------------------
def save_checkpoint(work: Path, model: Model, optimiser: torch.optim.Optimizer, progress: dict) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    state = optimiser.state_dict()
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"optim.{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    work.mkdir(parents=True, exist_ok=True)
    modelstore.save_tensors(work / CHECKPOINT, tensors)
    tmp = work / (PROGRESS + ".tmp")
    tmp.write_text(json.dumps(progress, indent=1))
    tmp.replace(work / PROGRESS)


def load_checkpoint(work: Path, model: Model, optimiser: torch.optim.Optimizer) -> dict:
    tensors = modelstore.load_tensors(work / CHECKPOINT)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimiser.load_state_dict({"state": state, "param_groups": optimiser.state_dict()["param_groups"]})
    return json.loads((work / PROGRESS).read_text())


# --- progress -------------------------------------------------------------------------------------
def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """A progress line with loss and ETA: redrawn in place on a terminal, every 5 % otherwise."""

    def __init__(self, name: str, total: int, start: int, stream=sys.stderr):
        self.name, self.total, self.start, self.stream = name, total, start, stream
        self.t0 = time.perf_counter()
        self.tty = stream.isatty()
        self.every = max(1, total // 20)
        self.last_draw = 0.0

    def update(self, step: int, loss: float, parts: dict[str, float]) -> None:
        now = time.perf_counter()
        done = step - self.start
        rate = done / max(now - self.t0, 1e-9)
        final = step == self.total
        if self.tty and not final and now - self.last_draw < 0.2:
            return
        if not self.tty and not final and step % self.every:
            return
        self.last_draw = now
        terms = " ".join(f"{k} {v:.4g}" for k, v in parts.items())
        width = 24
        bar = "#" * int(width * step / self.total)
        line = (f"{self.name} [{bar:<{width}}] {step}/{self.total} loss {loss:.5f} ({terms}) "
                f"{rate:.2f} step/s ETA {_duration((self.total - step) / max(rate, 1e-9))}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


# --- training -------------------------------------------------------------------------------------
def train(model_name: str, data: str | Path, expert: str, out: str | Path, steps: int | None = None,
          seed: int = 0, device: str = "cpu", version: str | None = None, checkpoint_every: int | None = None,
          arguments: dict[str, Any] | None = None, quiet: bool = False,
          stop_after: int | None = None, on_step: Callable[[int, int, float], bool] | None = None,
          card_extra: dict[str, Any] | None = None) -> Path | None:
    """Train (or resume) and write the version folder; returns it (None if stopped by ``stop_after``,
    which ends the run after that step as an interruption would, for tests).

    ``on_step(step, steps, loss)`` is called after every step (a training job reports progress with
    it); when it returns False the run checkpoints and stops there, as ``stop_after`` does (a
    cancelled job keeps its checkpoint, and the same call resumes it). ``card_extra`` is merged into
    the card (e.g. the job and dataset version that made the weights)."""
    data, out = Path(data), Path(out)
    dev = pick_device(device)
    engine_dir = out / model_name
    version = version or _unfinished(engine_dir) or _next_version(engine_dir)
    final_dir = modelstore.version_dir(out, model_name, version)
    if (final_dir / modelstore.CARD).exists():
        raise SystemExit(f"error: {final_dir} already holds a trained model; choose another --version")
    work = engine_dir / f".{version}.training"

    torch.manual_seed(seed)
    model = create(model_name, **(arguments or {}))
    steps = steps or model.DEFAULT_STEPS
    model.to(dev).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=model.LEARNING_RATE)
    start, history = 0, []
    if (work / CHECKPOINT).is_file():
        progress = load_checkpoint(work, model, optimiser)
        if progress["seed"] != seed or progress["steps"] != steps or progress["expert"] != expert:
            raise SystemExit(f"error: {work} holds a run with seed {progress['seed']}, {progress['steps']} "
                             f"steps, expert {progress['expert']}: resume it with the same options")
        start, history = progress["step"], progress["history"]
        if not quiet:
            print(f"resuming {model_name} version {version} from step {start}", file=sys.stderr)

    t_load = time.perf_counter()
    train_set = model.train_data(PPR10KFolder(data, "train", expert))
    if not quiet:
        print(f"{model_name} v{version}: {len(train_set)} training pairs (expert {expert}) loaded in "
              f"{time.perf_counter() - t_load:.1f} s; {steps} steps on {dev}", file=sys.stderr)
    checkpoint_every = checkpoint_every or max(50, steps // 10)
    bar = Progress(model_name, steps, start, stream=sys.stderr) if not quiet else None
    t0 = time.perf_counter()
    for step in range(start, steps):
        rng = seeded(seed, step)
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(model.LEARNING_RATE, step, steps)
        loss, parts = model.training_loss(model.sample_batch(train_set, rng, dev), rng)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        history.append(round(float(loss.detach()), 6))
        done = step + 1
        if bar:
            bar.update(done, float(np.mean(history[-20:])), parts)
        go_on = on_step(done, steps, history[-1]) if on_step else True
        stop = done == stop_after or go_on is False
        if done % checkpoint_every == 0 or done == steps or stop:
            save_checkpoint(work, model, optimiser, {"step": done, "seed": seed, "steps": steps,
                                                     "expert": expert, "history": history})
        if stop:
            return None
    seconds = time.perf_counter() - t0

    metrics = {}
    try:
        val_set = model.train_data(PPR10KFolder(data, "val", expert))
        metrics = {"split": "val", "size": f"{model.size}²", **validation(model, val_set, seed, dev)}
    except (FileNotFoundError, ValueError):
        pass
    tenth = max(1, len(history) // 10)
    card = {
        "architecture": model_name,
        "arguments": model.arguments,
        "paper": model.PAPER,
        "inputs": model.INPUTS,
        "parameters": sum(p.numel() for p in model.parameters()),
        "data": {"root": str(data.resolve()), "manifest_sha256": manifest_hash(data), "split": "train",
                 "expert": expert, "pairs": len(train_set)},
        "losses": model.LOSSES,
        "training": {"steps": steps, "seed": seed, "batch_size": model.BATCH_SIZE, "optimiser": "adam",
                     "learning_rate": model.LEARNING_RATE, "schedule": "cosine to 10 %",
                     "train_size": model.size, "device": str(dev),
                     "seconds_last_session": round(seconds, 1),
                     "loss_first_tenth": float(np.mean(history[:tenth])) if history else None,
                     "loss_last_tenth": float(np.mean(history[-tenth:])) if history else None},
        "metrics": metrics,
        "commit": commit_id(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **(card_extra or {}),
    }
    folder = modelstore.write_version(out, model_name, version, model.cpu(), card)
    for f in (CHECKPOINT, PROGRESS):
        (work / f).unlink(missing_ok=True)
    work.rmdir()
    if not quiet:
        summary = (f"; val PSNR {metrics['psnr']:.2f} dB (input {metrics['input_psnr']:.2f} dB)"
                   if metrics else "")
        print(f"wrote {folder}{summary}", file=sys.stderr)
    return folder


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m inference.train",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                description="Train a learned engine's network on a PPR10K-layout folder "
                                            "(docs/models.md).")
    p.add_argument("model", choices=names(), help="the network (engine name)")
    p.add_argument("--data", required=True, type=Path, help="PPR10K-layout folder (360p/train is read)")
    p.add_argument("--expert", default="a", choices=EXPERTS, help="whose targets to learn")
    p.add_argument("--out", required=True, type=Path, help="model directory (MODEL_DIR) to write into")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the model's own)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to train")
    p.add_argument("--version", default=None, help="version folder name (default: next integer, or the "
                                                    "interrupted run to resume)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints "
                                                                       "(default: a tenth of the run)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        train(args.model, args.data, args.expert, args.out, args.steps, args.seed, args.device,
              args.version, args.checkpoint_every, quiet=args.quiet)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
