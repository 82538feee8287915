"""PyTorch side of `cargo xtask bench --peer`: the PtychoPINN `cnn` generator and the physics
our training step runs, timed like `crates/ptycho-model/examples/peer_step.rs`.

Written from the architecture facts in shared/reference/model.md (sections 1.2, 2, 3.1-3.3),
float32 on the CPU, `torch.set_num_threads(os.cpu_count())`.

Included in a training step (same as ours):
  * batch upload and the translation matrices of the group geometry (built per step);
  * generator: input scaling by the trainable `log_scale`, encoder of 3x3 conv pairs + ReLU +
    2x2 max-pool down to 8x8, two independent decoders (amplitude, phase) of conv pairs + ReLU
    + 2x nearest upsampling, main head on all but the last 4 channels, sigmoid / pi*tanh,
    zero-padded from N/2 to N (`pad_object`, `probe.big` off, `object.big` on: gs^2 outputs);
  * object `amp*exp(i*phase)`, per-group canvas merge (separable bilinear shifts as matrices,
    co-masked by the centre support, divided by overlap count + 0.001), centre crop,
    re-extraction of the gs^2 patches at their offsets;
  * probe product, 2-D FFT (norm "ortho"), |F|^2, fftshift;
  * Poisson NLL `mean(lam - k*log(lam + 1e-12))`, `lam = exp(2*log_scale)*I`, `k = (s*X)^2`
    (our default `LossWeights`: NLL only);
  * backward and one Adam step (lr 1e-4, eps 1e-5 as burn's default).
An inference pass is batch upload, generator, canvas merge and centre crop under
`torch.inference_mode()`, the cropped object copied out contiguously (ours reads it back).
Excluded on both sides: data loading, grouping, stitching, checkpointing. The probe is a plain
disk (ours smooths its edge); this changes no cost.

Prints one JSON line: patterns/s at the median step time, median and mean seconds per step.
"""

import argparse
import json
import math
import os
import time

import torch
from torch import nn
import torch.nn.functional as F

SCALE = 988.0
C_OUTER = 4
COUNT_EPSILON = 1e-3
NLL_EPSILON = 1e-12

ENCODER = {32: [64, 128], 64: [32, 64, 128], 128: [16, 32, 64, 128], 256: [8, 16, 32, 64, 128]}
DECODER = {32: [32], 64: [64, 32], 128: [128, 64, 32], 256: [256, 128, 64, 32]}


def conv3x3(c_in, c_out):
    """3x3 'same' convolution with bias, Glorot-uniform kernel and zero bias (Keras init)."""
    conv = nn.Conv2d(c_in, c_out, 3, padding=1)
    nn.init.xavier_uniform_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class ConvPair(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv1 = conv3x3(c_in, c_out)
        self.conv2 = conv3x3(c_out, c_out)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class Decoder(nn.Module):
    def __init__(self, n, nfs, c_in, c_out, phase):
        super().__init__()
        blocks, channels = [], c_in
        for f in DECODER[n]:
            blocks.append(ConvPair(channels, f * nfs))
            channels = f * nfs
        self.blocks = nn.ModuleList(blocks)
        self.conv1 = conv3x3(channels - C_OUTER, c_out)
        self.phase = phase
        self.quarter = n // 4

    def forward(self, x):
        for block in self.blocks:
            x = F.interpolate(block(x), scale_factor=2, mode="nearest")
        y = self.conv1(x[:, : x.shape[1] - C_OUTER])
        y = math.pi * torch.tanh(y) if self.phase else torch.sigmoid(y)
        q = self.quarter
        return F.pad(y, (q, q, q, q))


class Pinn(nn.Module):
    def __init__(self, n, gridsize, nfs):
        super().__init__()
        c = gridsize * gridsize
        blocks, channels = [], c
        for f in ENCODER[n]:
            blocks.append(ConvPair(channels, f * nfs))
            channels = f * nfs
        self.encoder = nn.ModuleList(blocks)
        self.decoder_amp = Decoder(n, nfs, channels, c, phase=False)
        self.decoder_phase = Decoder(n, nfs, channels, c, phase=True)
        self.log_scale = nn.Parameter(torch.tensor([math.log(SCALE)]))

    def object_patches(self, amplitude):
        x = amplitude * SCALE / self.log_scale.exp()
        for block in self.encoder:
            x = F.max_pool2d(block(x), 2)
        amp, phase = self.decoder_amp(x), self.decoder_phase(x)
        return torch.stack([amp * torch.cos(phase), amp * torch.sin(phase)])  # [2, B, C, N, N]


def shift_matrices(length, shifts):
    """[K, length, length] 1-D bilinear shifts: row i interpolates the input at i - shift, each
    tap outside the axis contributes zero (model.md 3.1)."""
    src = torch.arange(length, dtype=torch.float32)[None, :] - shifts[:, None]
    lo = src.floor()
    frac = src - lo
    cols = torch.arange(length, dtype=torch.float32)[None, None, :]

    def at(tap):
        return (cols == tap[:, :, None]).float()

    return (1 - frac)[:, :, None] * at(lo) + frac[:, :, None] * at(lo + 1)


class Geometry:
    """Per-group canvas merge and patch extraction as separable matrix products (3.2, 3.3)."""

    def __init__(self, offsets, n, m):
        b, c, _ = offsets.shape
        dx, dy = offsets[..., 0].reshape(-1), offsets[..., 1].reshape(-1)
        lo = (m - n) // 2
        self.place_rows = shift_matrices(m, -dy)[:, :, lo : lo + n]  # [K, M, N]
        self.place_cols_t = shift_matrices(m, -dx)[:, :, lo : lo + n].transpose(1, 2)
        self.take_rows = shift_matrices(m, dy)[:, lo : lo + n, :]  # [K, N, M]
        self.take_cols_t = shift_matrices(m, dx)[:, lo : lo + n, :].transpose(1, 2)
        self.support = torch.zeros(n, n)
        self.support[n // 4 : n // 4 + n // 2, n // 4 : n // 4 + n // 2] = 1.0
        placed = self.place_rows @ self.support @ self.place_cols_t
        self.count = placed.reshape(b, c, m, m).sum(1, keepdim=True) + COUNT_EPSILON
        self.b, self.c, self.n, self.m = b, c, n, m

    def reassemble(self, patches):  # [2, B, C, N, N] -> [2, B, 1, M, M]
        b, c, n, m = self.b, self.c, self.n, self.m
        flat = (patches * self.support).reshape(2, b * c, n, n)
        placed = self.place_rows @ flat @ self.place_cols_t
        return placed.reshape(2, b, c, m, m).sum(2, keepdim=True) / self.count

    def trim(self, canvas):
        lo = (self.m - self.n) // 2
        return canvas[..., lo : lo + self.n, lo : lo + self.n]

    def extract(self, canvas):  # [2, B, 1, M, M] -> [2, B*C, N, N]
        b, c, m = self.b, self.c, self.m
        tiled = canvas.expand(2, b, c, m, m).reshape(2, b * c, m, m)
        return self.take_rows @ tiled @ self.take_cols_t


def disk_probe(n, probe_scale=4.0):
    """A disk of diameter N/2, normalised by probe_scale * mean|disk * P| (model.md 1.1)."""
    r = torch.arange(n, dtype=torch.float32) - n / 2 + 0.5
    disk = ((r[:, None] ** 2 + r[None, :] ** 2).sqrt() < n // 4).float()
    probe = disk + 1e-9
    return torch.complex(probe / (probe_scale * (disk * probe).mean()), torch.zeros(n, n))


def training_loss(model, probe, amplitude, geometry):
    canvas = geometry.reassemble(model.object_patches(amplitude))
    patches = geometry.extract(canvas)
    psi = torch.complex(patches[0], patches[1]) * probe
    far = torch.fft.fft2(psi, norm="ortho")
    intensity = torch.fft.fftshift(far.real**2 + far.imag**2, dim=(-2, -1))
    rate = intensity.reshape(amplitude.shape) * (2 * model.log_scale).exp()
    counts = (amplitude * SCALE) ** 2
    return (rate - counts * torch.log(rate + NLL_EPSILON)).mean()


def host_batch(n, batch, gridsize):
    """The deterministic amplitudes and offsets of peer_step.rs."""
    c = gridsize * gridsize
    i = torch.arange(batch * c * n * n, dtype=torch.int64)
    amplitude = ((i * 2_654_435_761) % 1000).float().div(1000.0).reshape(batch, c, n, n)
    j = torch.arange(batch * c * 2, dtype=torch.int64)
    offsets = ((j % 4).float() - 1.5) * 1.3 if gridsize > 1 else torch.zeros(batch * c * 2)
    return amplitude, offsets.reshape(batch, c, 2)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, default in [("n", 64), ("batch", 16), ("gridsize", 1), ("nfs", 2)]:
        p.add_argument(f"--{flag}", type=int, default=default)
    p.add_argument("--mode", choices=["train", "infer"], default="train")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    m = a.n + (a.gridsize - 1) * 4 + 10
    m += (m - a.n) % 2
    amplitude_host, offsets_host = host_batch(a.n, a.batch, a.gridsize)
    model, probe = Pinn(a.n, a.gridsize, a.nfs), disk_probe(a.n)
    optim = torch.optim.Adam(model.parameters(), lr=1e-4, eps=1e-5)
    times = []
    for step in range(a.warmup + max(a.steps, 1)):
        start = time.perf_counter()
        amplitude = amplitude_host.clone()
        geometry = Geometry(offsets_host, a.n, m)
        if a.mode == "train":
            optim.zero_grad(set_to_none=True)
            training_loss(model, probe, amplitude, geometry).backward()
            optim.step()
            model.log_scale.item()
        else:
            with torch.inference_mode():
                obj = geometry.trim(geometry.reassemble(model.object_patches(amplitude)))
                obj.contiguous()
        if step >= a.warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    half = len(times) // 2
    median = times[half] if len(times) % 2 else (times[half - 1] + times[half]) / 2
    patterns = a.batch * a.gridsize * a.gridsize
    print(json.dumps({
        "impl": f"pytorch-{torch.__version__}",
        "n": a.n, "batch": a.batch, "gridsize": a.gridsize, "nfs": a.nfs, "mode": a.mode,
        "patterns_per_step": patterns, "steps": len(times),
        "median_s": median, "mean_s": sum(times) / len(times),
        "patterns_per_s": patterns / median,
        "parameters": sum(t.numel() for t in model.parameters()),
    }))


if __name__ == "__main__":
    main()
