"""PyTorch's side of `crates/ptycho-model/benches/conv.rs`: one 3x3 "same" convolution layer with
bias, forward and backward (output, input and weight gradients) of `sum(conv(x) * r)`, at the
same shapes, float32 on all cores. Prints the median of 10 timed runs per shape (after 3 warmup
runs), in milliseconds, named like the criterion cases (`torch/b<batch>_c<in>x<out>_<side>`).

Run it with the environment `cargo xtask bench --peer` installs:

    target/peer-venv/bin/python xtask/peer/torch_conv_layers.py
"""

import os
import statistics
import time

import torch

# (batch, c_in, c_out, side), as SHAPES in benches/conv.rs.
SHAPES = [
    (16, 64, 64, 64),
    (16, 64, 128, 32),
    (16, 128, 128, 32),
    (16, 256, 256, 16),
    (16, 256, 256, 8),
    (4, 32, 32, 64),
    (4, 64, 64, 32),
    (4, 128, 128, 16),
    (4, 16, 16, 64),
]


def median_ms(step, warmup=3, runs=10):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(1)
    for batch, c_in, c_out, side in SHAPES:
        conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
        x = torch.rand(batch, c_in, side, side)
        r = torch.rand(batch, c_out, side, side)

        def step():
            xg = x.clone().requires_grad_()
            conv.zero_grad(set_to_none=True)
            (conv(xg) * r).sum().backward()
            return xg.grad, conv.weight.grad

        print(f"torch/b{batch}_c{c_in}x{c_out}_{side}: {median_ms(step):.2f} ms", flush=True)


if __name__ == "__main__":
    main()
