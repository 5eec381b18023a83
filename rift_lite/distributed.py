"""Data-parallel helpers (torch.distributed; works under ``torchrun`` and ``accelerate launch``).

One rule matters for RIFT: the InfoNCE bound (Lemma 1) is computed over the *global* batch, so features are
all-gathered **with gradient** (:func:`gather_with_grad`, ``torch.distributed.nn.functional.all_gather``) before the
bound. Every rank then holds the same global loss; the gather's backward sums the gradient of every rank's copy into
each rank's own rows (a factor world_size), and DDP's gradient averaging divides it out again, so the update equals
the single-process one with the same global batch.

:func:`spawn_local` starts N local CPU processes (gloo) the way ``torchrun`` would, for notebooks and tests.
"""
from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def launched_distributed() -> bool:
    """True under torchrun / accelerate (``WORLD_SIZE`` > 1 in the environment)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device_type: str = "cpu") -> torch.device:
    """Initialise the process group from the environment if launched distributed; return this rank's device."""
    if launched_distributed() and not is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    if device_type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device(device_type)


def cleanup() -> None:
    if is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0, keeping the autograd graph (rank order)."""
    if not is_initialized() or world_size() == 1:
        return tensor
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(tensor.contiguous()), dim=0)


def gather_no_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0 (no gradient)."""
    if not is_initialized() or world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


def all_reduce_mean(values: dict[str, float], device=None) -> dict[str, float]:
    """Average a dict of floats over ranks (for logs)."""
    if not is_initialized() or world_size() == 1 or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= world_size()
    return dict(zip(keys, t.tolist()))


# ---------------------------------------------------------------------------------------------- local processes


def _spawn_entry(local_rank: int, world: int, port: int, fn, argument, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(local_rank), LOCAL_RANK=str(local_rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    try:
        result = fn(argument)
        if local_rank == 0:
            queue.put(result)
    finally:
        cleanup()


def spawn_local(fn, argument, nprocs: int = 2):
    """``fn(argument)`` in ``nprocs`` local CPU processes (gloo), as ``torchrun`` would start them; returns rank 0's
    result. ``fn`` must be importable by name (the processes are spawned)."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_spawn_entry, args=(nprocs, port, fn, argument, queue), nprocs=nprocs, join=True,
                       start_method="spawn")
    return queue.get()
