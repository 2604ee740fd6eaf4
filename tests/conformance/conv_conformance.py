#!/usr/bin/python3
"""conv_conformance.py -- basin's cnn and resnet against their PyTorch modules.

    /usr/bin/python3 tests/conformance/conv_conformance.py BASIN

For each configuration, `basin init` writes a theta (.npy) and `basin eval` prints the
mean cross-entropy over the first 256 Fashion-MNIST training images and writes its
gradient; the PyTorch module of bench/torch_models.py (whose named_parameters() order
is basin's layout) loads the same theta with vector_to_parameters and computes loss and
gradient in float64 on the same images (pixels / 255). A case passes when
|loss_basin - loss_torch| <= 1e-10 |loss_torch| and
max|g_basin - g_torch| <= 1e-10 max|g_torch|, and also when the theta is a trained-looking
one (init plus a random perturbation, so norm weights are not 1 and biases not 0).

One "PASS name: ..." / "FAIL ..." line per case, then "N passed, M failed"; exit 1 on
any failure. Without python3-torch or numpy: a SKIP line and exit 0.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as exc:
    print(f"SKIP conv conformance: {exc} (sudo apt-get install python3-torch python3-numpy)")
    sys.exit(0)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import torch_models  # noqa: E402

torch.set_num_threads(1)
SAMPLES = 256
TOL = 1e-10

CASES = [
    ("cnn default (6,16; 256,256; relu)", ["--model", "cnn"],
     lambda: torch_models.cnn()),
    ("cnn channels 4,8, hidden 32, tanh", ["--model", "cnn", "--channels", "4,8", "--hidden", "32",
                                           "--act", "tanh"],
     lambda: torch_models.cnn(channels=(4, 8), hidden=(32,), act="tanh")),
    ("cnn no bias, gelu", ["--model", "cnn", "--hidden", "64", "--no-bias", "--act", "gelu"],
     lambda: torch_models.cnn(hidden=(64,), bias=False, act="gelu")),
    ("resnet width 8, 3 blocks, skip on", ["--model", "resnet", "--width", "8", "--blocks", "3"],
     lambda: torch_models.resnet(width=8, blocks=3)),
    ("resnet width 8, 3 blocks, skip off", ["--model", "resnet", "--width", "8", "--blocks", "3",
                                            "--skip", "off"],
     lambda: torch_models.resnet(width=8, blocks=3, skip=False)),
    ("resnet default (16, 9 blocks)", ["--model", "resnet"], lambda: torch_models.resnet()),
    ("resnet width 6, 2 blocks, softplus", ["--model", "resnet", "--width", "6", "--blocks", "2",
                                            "--act", "softplus"],
     lambda: torch_models.resnet(width=6, blocks=2, act="softplus")),
]


def basin_eval(basin, opts, theta_path, grad_path):
    out = subprocess.run([basin, "eval", *opts, "--samples", str(SAMPLES), "--init", theta_path,
                          "--grad-out", grad_path, "--threads", "1"],
                         check=True, capture_output=True, text=True).stdout
    fields = dict(kv.split("=") for kv in out.split() if "=" in kv)
    return float(fields["loss"]), np.load(grad_path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    basin = sys.argv[1]
    x, y = torch_models.fashion(SAMPLES)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        th_path, g_path = os.path.join(tmp, "theta.npy"), os.path.join(tmp, "g.npy")
        for name, opts, make in CASES:
            subprocess.run([basin, "init", *opts, "--seed", "7", "--out", th_path], check=True,
                           capture_output=True)
            theta0 = np.load(th_path)
            rng = np.random.default_rng(1)
            for label, theta in (("init", theta0),
                                 ("perturbed", theta0 + 0.05 * rng.standard_normal(theta0.shape))):
                np.save(th_path, theta)
                lb, gb = basin_eval(basin, opts, th_path, g_path)
                net = make()
                params = list(net.parameters())
                torch.nn.utils.vector_to_parameters(torch.from_numpy(theta.copy()), params)
                loss = torch.nn.functional.cross_entropy(net(x), y)
                g = torch.autograd.grad(loss, params)
                gt = torch.cat([t.reshape(-1) for t in g]).numpy()
                lt = loss.item()
                dl = abs(lb - lt) / abs(lt)
                dg = (np.max(np.abs(gb - gt)) / np.max(np.abs(gt))) if gb.shape == gt.shape else np.inf
                ok = dl <= TOL and dg <= TOL
                passed += ok
                failed += not ok
                print(f"{'PASS' if ok else 'FAIL'} {name}, {label} theta ({theta.size} params): "
                      f"loss rel dev {dl:.2e}, grad max rel dev {dg:.2e}", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
