"""torch_models.py -- PyTorch equivalents of basin's convolutional models.

CNN and ResNet below compute exactly what basin's "cnn" and "resnet" compute
(models/cnn.c), in float64, and their named_parameters() order *is* basin's theta
layout, so a basin theta loads with torch.nn.utils.vector_to_parameters and a PyTorch
gradient flattens with parameters_to_vector. The conformance test
(tests/conformance/conv_conformance.py) and the benchmark (bench/bench_conv.c's peer,
`python3 bench/torch_models.py --bench`) use them.

    cnn:    Sequential(Conv2d(c, c1, 5, padding=2), act, MaxPool2d(2), Conv2d(c1, c2, 5),
            act, MaxPool2d(2), Flatten(), Linear(.., hidden[0]), act, ..., Linear(.., classes))
    resnet: conv 3x3 s2 p1 (no bias) -> GroupNorm(1, w) -> act, then blocks
            r = GN2(conv2(act(GN1(conv1(h))))), h = act(h + r) (skip) or act(r),
            then the mean over (h, w) and Linear(w, classes)
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ACTS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
    "softplus": nn.Softplus, "identity": nn.Identity,
}


def act_module(name, slope=0.01):
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    return ACTS[name]()


def cnn(in_c=1, side=28, classes=10, channels=(6, 16), hidden=(256, 256), act="relu",
        bias=True):
    """basin's `cnn`: the nn.Sequential whose indices name the parameters."""
    c1, c2 = channels
    s = ((side // 2) - 4) // 2
    layers = [nn.Conv2d(in_c, c1, 5, padding=2, bias=bias), act_module(act), nn.MaxPool2d(2),
              nn.Conv2d(c1, c2, 5, bias=bias), act_module(act), nn.MaxPool2d(2), nn.Flatten()]
    width = c2 * s * s
    for h in hidden:
        layers += [nn.Linear(width, h, bias=bias), act_module(act)]
        width = h
    layers.append(nn.Linear(width, classes, bias=bias))
    return nn.Sequential(*layers).double()


class Block(nn.Module):
    def __init__(self, width, skip, act):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(1, width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(1, width)
        self.act = act_module(act)
        self.skip = skip

    def forward(self, x):
        r = self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))
        return self.act(x + r if self.skip else r)


class ResNet(nn.Module):
    """basin's `resnet`: named_parameters() = conv.weight, norm.weight, norm.bias,
    blocks.<i>.{conv1.weight, norm1.weight, norm1.bias, conv2.weight, norm2.*},
    head.weight, head.bias."""

    def __init__(self, in_c=1, classes=10, width=16, blocks=9, skip=True, act="relu", bias=True):
        super().__init__()
        self.conv = nn.Conv2d(in_c, width, 3, stride=2, padding=1, bias=False)
        self.norm = nn.GroupNorm(1, width)
        self.blocks = nn.Sequential(*[Block(width, skip, act) for _ in range(blocks)])
        self.head = nn.Linear(width, classes, bias=bias)
        self.act = act_module(act)

    def features(self, x):
        h = self.act(self.norm(self.conv(x)))
        return self.blocks(h).mean(dim=(2, 3))

    def forward(self, x):
        return self.head(self.features(x))


def resnet(**kw):
    return ResNet(**kw).double()


def fashion(n):
    """The first n Fashion-MNIST training images (n, 1, 28, 28), pixels / 255 as basin
    scales them, and their labels; from $BASIN_DATA_DIR or Debian's dataset package."""
    d = os.environ.get("BASIN_DATA_DIR", "/usr/share/datasets/fashion-mnist")
    with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[:n * 784].astype(np.float64) / 255.0
    with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
    return torch.from_numpy(x.reshape(n, 1, 28, 28)), torch.from_numpy(y)


def median_time(f, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def full_batch(net, x, y, reps):
    """Median seconds of a full-batch gradient and of an HVP (double backward)."""
    params = list(net.parameters())
    v = [torch.randn_like(p) for p in params]

    def grad():
        return torch.autograd.grad(F.cross_entropy(net(x), y), params)

    def hvp():
        g = torch.autograd.grad(F.cross_entropy(net(x), y), params, create_graph=True)
        return torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, v)), params)
    return median_time(grad, reps), median_time(hvp, reps)


def bench(args):
    """The peer of bench/bench_conv.c: float64, one thread, the same workloads."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    n = 2000 if args.quick else 10000
    reps = 2 if args.quick else 5
    x, y = fashion(n)
    net = cnn(hidden=(120, 84))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    B = 128
    steps = n // B

    def epoch():
        for s in range(steps):
            opt.zero_grad(set_to_none=False)
            F.cross_entropy(net(x[s * B:(s + 1) * B]), y[s * B:(s + 1) * B]).backward()
            opt.step()
    epoch()
    t = median_time(epoch, reps)
    print(f"cnn_train_step_us {t / steps * 1e6:.1f} us (batch {B})")
    tg, th = full_batch(net, x[:2000], y[:2000], reps)
    print(f"cnn_grad_full_ms {tg * 1e3:.2f} ms (2000 samples)")
    print(f"cnn_hvp_full_ms {th * 1e3:.2f} ms ({th / tg:.2f} gradients)")
    m = 200 if args.quick else 1000
    tg, th = full_batch(resnet(), x[:m], y[:m], reps)
    print(f"resnet_grad_ms {tg * 1e3:.2f} ms ({m} samples)")
    print(f"resnet_hvp_ms {th * 1e3:.2f} ms ({th / tg:.2f} gradients)")
    print(f"# torch {torch.__version__}, 1 thread, float64")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", action="store_true", help="time bench_conv's workloads")
    ap.add_argument("--quick", action="store_true", help="2,000 images, 2 repetitions")
    a = ap.parse_args()
    if a.bench:
        bench(a)
    else:
        for m in (cnn(), resnet()):
            print(type(m).__name__, sum(p.numel() for p in m.parameters()))
