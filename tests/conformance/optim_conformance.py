#!/usr/bin/python3
"""optim_conformance.py -- basin's optimizers against PyTorch, step by step.

    /usr/bin/python3 tests/conformance/optim_conformance.py BASIN DRIVER

SGD, Adam and AdamW run as torch.optim itself; diffGrad v2, AdEMAMix, SAM/ASAM, GAM,
forward gradient and MeZO as faithful PyTorch transcriptions of their reference code
(../shared/REFERENCE-optimizers.md: diffGrad_v2.py, apple/ml-ademamix, davda54/sam,
xxgege/GAM gam.py, Baydin et al., princeton-nlp/MeZO), in float64. Each case runs 100
full-batch steps on a 2-D test function and on an MLP 784-16-10 over 64 Fashion-MNIST
samples whose theta comes from `basin init` as .npy; basin's trajectory comes from the
C driver (driver.c), which also hands over the random directions the stochastic methods
drew. Deviation per step: max|theta_basin - theta_torch| / max|theta_torch|; a case
passes when the largest over the 100 steps is <= 1e-9.

One "PASS name: max rel dev X" / "FAIL ..." line per case, then "N passed, M failed";
exit 1 on any failure. Without python3-torch: a SKIP line and exit 0.
"""
import math
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as exc:
    print(f"SKIP optimizer conformance: {exc} (sudo apt-get install python3-torch python3-numpy)")
    sys.exit(0)

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)
STEPS = 100
TOL = 1e-9

# --- objectives: a list of parameter tensors and a closure returning the loss ---


def testfn(name):
    """2-D test functions as in models/testfn.c; one parameter "xy"."""
    def rosenbrock(x, y):
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2

    def beale(x, y):
        return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2
                + (2.625 - x + x * y ** 3) ** 2)

    def himmelblau(x, y):
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2

    def rastrigin(x, y):
        return (20 + x * x - 10 * torch.cos(2 * math.pi * x)
                + y * y - 10 * torch.cos(2 * math.pi * y))

    if name.startswith("quadratic:"):
        a, b = (float(v) for v in name.split(":")[1].split(","))
        return lambda x, y: (a * x * x + b * y * y) / 2
    return {"rosenbrock": rosenbrock, "beale": beale, "himmelblau": himmelblau,
            "rastrigin": rastrigin}[name]


class Objective:
    def __init__(self, theta0, fn=None, hidden=None, x=None, y=None):
        if fn is not None:
            self.params = [torch.tensor(theta0, requires_grad=True)]
            self.names = ["xy"]
            f = testfn(fn)
            self.loss_fn = lambda: f(self.params[0][0], self.params[0][1])
        else:
            d, c = x.shape[1], int(y.max()) + 1
            dims = [d] + hidden + [c]
            layers = []
            for i in range(len(dims) - 1):
                layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
                if i < len(dims) - 2:
                    layers.append(torch.nn.ReLU())
            self.net = torch.nn.Sequential(*layers)
            at = 0
            with torch.no_grad():
                for p in self.net.parameters():
                    p.copy_(torch.from_numpy(theta0[at:at + p.numel()]).view_as(p))
                    at += p.numel()
            assert at == theta0.size
            self.params = list(self.net.parameters())
            self.names = [nm for nm, _ in self.net.named_parameters()]
            xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
            self.loss_fn = lambda: torch.nn.functional.cross_entropy(self.net(xt), yt)

    def grad(self):
        """Loss and .grad of every parameter at the current parameters."""
        for p in self.params:
            p.grad = None
        loss = self.loss_fn()
        loss.backward()
        return loss.item()

    def loss(self):
        with torch.no_grad():
            return self.loss_fn().item()

    def flat(self):
        return torch.cat([p.detach().reshape(-1) for p in self.params]).numpy().copy()

    def split(self, flat):
        out, at = [], 0
        for p in self.params:
            out.append(torch.from_numpy(flat[at:at + p.numel()].copy()).view_as(p))
            at += p.numel()
        return out


# --- transcriptions of the reference code ---


class DiffGrad(torch.optim.Optimizer):
    """shivram1987/diffGrad, diffGrad_v2.py (previous_grad = grad.clone())."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group['params']:
                grad = p.grad.data
                state = self.state[p]
                if len(state) == 0:
                    state['step'] = 0
                    state['exp_avg'] = torch.zeros_like(p.data)
                    state['exp_avg_sq'] = torch.zeros_like(p.data)
                    state['previous_grad'] = torch.zeros_like(p.data)
                exp_avg, exp_avg_sq = state['exp_avg'], state['exp_avg_sq']
                previous_grad = state['previous_grad']
                beta1, beta2 = group['betas']
                state['step'] += 1
                if group['weight_decay'] != 0:
                    grad = grad.add(p.data, alpha=group['weight_decay'])
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = exp_avg_sq.sqrt().add_(group['eps'])
                bias_correction1 = 1 - beta1 ** state['step']
                bias_correction2 = 1 - beta2 ** state['step']
                diff = abs(previous_grad - grad)
                dfc = 1. / (1. + torch.exp(-diff))
                state['previous_grad'] = grad.clone()
                exp_avg1 = exp_avg * dfc
                step_size = group['lr'] * math.sqrt(bias_correction2) / bias_correction1
                p.data.addcdiv_(exp_avg1, denom, value=-step_size)


def linear_warmup_scheduler(step, alpha_end, alpha_start=0, warmup=1):
    if step < warmup:
        a = step / float(warmup)
        return (1.0 - a) * alpha_start + a * alpha_end
    return alpha_end


def linear_hl_warmup_scheduler(step, beta_end, beta_start=0, warmup=1):
    def f(beta, eps=1e-8):
        return math.log(0.5) / math.log(beta + eps) - 1

    def f_inv(t):
        return math.pow(0.5, 1 / (t + 1))

    if step < warmup:
        a = step / float(warmup)
        return f_inv((1.0 - a) * f(beta_start) + a * f(beta_end))
    return beta_end


class AdEMAMix(torch.optim.Optimizer):
    """apple/ml-ademamix, pytorch/ademamix.py."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999, 0.9999), alpha=2.0,
                 beta3_warmup=None, alpha_warmup=None, eps=1e-8, weight_decay=0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, alpha=alpha,
                                      beta3_warmup=beta3_warmup, alpha_warmup=alpha_warmup,
                                      weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lmbda, lr, eps = group["weight_decay"], group["lr"], group["eps"]
            beta1, beta2, beta3_final = group["betas"]
            beta3_warmup, alpha_warmup = group["beta3_warmup"], group["alpha_warmup"]
            alpha_final = group["alpha"]
            for p in group["params"]:
                grad = p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg_fast"] = torch.zeros_like(p) if beta1 != 0.0 else None
                    state["exp_avg_slow"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                exp_avg_fast, exp_avg_slow = state["exp_avg_fast"], state["exp_avg_slow"]
                exp_avg_sq = state["exp_avg_sq"]
                state["step"] += 1
                bias_correction1 = 1 - beta1 ** state["step"]
                bias_correction2 = 1 - beta2 ** state["step"]
                if alpha_warmup is not None:
                    alpha = linear_warmup_scheduler(state["step"], alpha_end=alpha_final,
                                                    alpha_start=0, warmup=alpha_warmup)
                else:
                    alpha = alpha_final
                if beta3_warmup is not None:
                    beta3 = linear_hl_warmup_scheduler(state["step"], beta_end=beta3_final,
                                                       beta_start=beta1, warmup=beta3_warmup)
                else:
                    beta3 = beta3_final
                if beta1 != 0.0:
                    exp_avg_fast.mul_(beta1).add_(grad, alpha=1 - beta1)
                else:
                    exp_avg_fast = grad
                exp_avg_slow.mul_(beta3).add_(grad, alpha=1 - beta3)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)
                update = (exp_avg_fast.div(bias_correction1) + alpha * exp_avg_slow) / denom
                update.add_(p, alpha=lmbda)
                p.add_(-lr * update)


def sam_step(obj, base, rho, adaptive, eta=0.0):
    """davda54/sam first_step/second_step (eta = 0); with eta, the reference's a = |theta|
    + eta on weight parameters (ASAM)."""
    loss = obj.grad()
    with torch.no_grad():
        def a(nm, p):
            return torch.abs(p) + (eta if nm.endswith("weight") or nm == "xy" else 0.0)
        if eta == 0:
            grad_norm = torch.norm(torch.stack([((torch.abs(p) if adaptive else 1.0) * p.grad)
                                                .norm(p=2) for p in obj.params]), p=2)
        else:
            grad_norm = torch.norm(torch.stack([(a(nm, p) * p.grad).norm(p=2)
                                                for nm, p in zip(obj.names, obj.params)]), p=2)
        scale = rho / (grad_norm + 1e-12)
        old = []
        for nm, p in zip(obj.names, obj.params):
            old.append(p.data.clone())
            if eta == 0:
                e_w = (torch.pow(p, 2) if adaptive else 1.0) * p.grad * scale.to(p)
            else:
                e_w = torch.pow(a(nm, p), 2) * p.grad * scale.to(p)
            p.add_(e_w)
    obj.grad()
    with torch.no_grad():
        for p, o in zip(obj.params, old):
            p.data = o
    base.step()
    return loss


def gam_step(obj, base, grad_rho, grad_norm_rho, beta0, beta1, gamma, adaptive=False):
    """The released GAM (xxgege/GAM gam/gam.py) as ../shared/REFERENCE-optimizers.md
    spells it: four gradients, in-place perturbations, subtraction to restore."""
    eps = 1e-12
    b2, b3 = 1 - beta0, 1 - beta1
    P = obj.params

    def grads():
        obj.grad()
        return [p.grad.detach().clone() for p in P]

    def norm_a(xs):
        return torch.norm(torch.stack([((torch.abs(p) if adaptive else 1.0) * x).norm(p=2)
                                       for p, x in zip(P, xs)]), p=2)

    def perturbation(xs, r):
        scale = r / (norm_a(xs) + eps)
        return [(torch.pow(p.detach(), 2) if adaptive else 1.0) * (x * scale)
                for p, x in zip(P, xs)]

    g0 = grads()
    with torch.no_grad():
        e0 = perturbation(g0, grad_rho)
        for p, e in zip(P, e0):
            p.add_(e)
    g1 = grads()
    with torch.no_grad():
        for p, e in zip(P, e0):
            p.sub_(e)
        d = [a - b for a, b in zip(g1, g0)]
        ev = perturbation(d, grad_norm_rho)
        for p, e in zip(P, ev):
            p.add_(e)
    g2 = grads()
    with torch.no_grad():
        ep = perturbation(g2, grad_rho)
        for p, e, q in zip(P, ev, ep):
            p.add_(q)
            e.add_(q)
    g3 = grads()
    with torch.no_grad():
        pm = [a + abs(b2) * b for a, b in zip(g0, g2)]
        gn = [beta1 * a + b3 * b for a, b in zip(g1, g3)]
        npm = torch.norm(torch.cat([x.reshape(-1) for x in pm]))
        ngn = torch.norm(torch.cat([x.reshape(-1) for x in gn]))
        inner = sum((a * b).sum() for a, b in zip(pm, gn))
        cos = inner / (ngn * npm + eps)
        for p, e, a, b in zip(P, ev, pm, gn):
            vert = a - cos * npm * b / (ngn + eps)
            p.sub_(e)
            p.grad = b - gamma * vert
    base.step()


def forward_grad_step(obj, base, dirs_t):
    """Baydin et al.: g^ = (1/K) sum_k <grad, v_k> v_k (the directional derivatives taken
    here by backprop: the oracle may), then the base update."""
    obj.grad()
    g = [p.grad.detach().clone() for p in obj.params]
    K = dirs_t.shape[0]
    acc = [torch.zeros_like(p) for p in obj.params]
    for k in range(K):
        v = obj.split(dirs_t[k])
        d = sum((a * b).sum() for a, b in zip(g, v)).item()
        for s, vv in zip(acc, v):
            s.add_(d * vv)
    with torch.no_grad():
        for p, s in zip(obj.params, acc):
            p.grad = (1.0 / K) * s
    base.step()


def mezo_step(obj, lr, eps, wd, dirs_t):
    """princeton-nlp/MeZO zo_step/zo_update, z handed over; with n > 1 seeds the
    reference's average of pg z."""
    S = dirs_t.shape[0]
    pgs = []
    for k in range(S):
        z = obj.split(dirs_t[k])

        def perturb(scaling_factor):
            for p, zz in zip(obj.params, z):
                p.data = p.data + scaling_factor * zz * eps
        perturb(1)
        loss1 = obj.loss()
        perturb(-2)
        loss2 = obj.loss()
        perturb(1)
        pgs.append((loss1 - loss2) / (2 * eps))
    zs = [obj.split(dirs_t[k]) for k in range(S)]
    for i, (name, p) in enumerate(zip(obj.names, obj.params)):
        est = 0
        for k in range(S):
            est = est + pgs[k] * zs[k][i]
        est = est * (1.0 / S)
        if "bias" not in name and "layer_norm" not in name and "layernorm" not in name:
            p.data = p.data - lr * (est + wd * p.data)
        else:
            p.data = p.data - lr * est


# --- cases ---


def lr_factor(flags, t):
    """basin's schedules used in the cases (optim/opt.h)."""
    kind = flags.get("schedule", "constant")
    if kind == "constant":
        return 1.0
    if kind == "exp":
        return math.exp(-(t - 1) * float(flags["lr-decay"]))
    if kind == "cosine":
        w, total = int(flags.get("warmup", 0)), STEPS
        if t <= w:
            return t / w
        p = min((t - w) / (total - w), 1.0)
        return 0 + (1 - 0) * 0.5 * (1 + math.cos(math.pi * p))
    raise ValueError(kind)


def rule(name, params, f):
    lr = float(f["lr"])
    wd = float(f.get("weight-decay", 0 if name != "adamw" else 1e-2))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(f.get("momentum", 0)),
                               dampening=float(f.get("dampening", 0)), weight_decay=wd,
                               nesterov="nesterov" in f)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "diffgrad":
        return DiffGrad(params, lr=lr, weight_decay=wd)
    if name == "ademamix":
        ta = int(f["t-alpha"]) if "t-alpha" in f else None
        tb = int(f["t-beta3"]) if "t-beta3" in f else None
        return AdEMAMix(params, lr=lr, alpha=float(f.get("alpha", 2.0)), alpha_warmup=ta,
                        beta3_warmup=tb, weight_decay=wd)
    raise ValueError(name)


def torch_run(obj, optim, f, dirs):
    name = optim
    base_name = f.get("base", "sgd") if optim in ("sam", "gam", "forward-grad") else optim
    base = None if optim == "mezo" else rule(base_name, obj.params, f)
    base_lr = float(f["lr"])
    traj = [obj.flat()]
    for t in range(1, STEPS + 1):
        lr_t = base_lr * lr_factor(f, t)
        if base is not None:
            for g in base.param_groups:
                g["lr"] = lr_t
        if name == "sam":
            sam_step(obj, base, float(f.get("rho", 0.05)), "adaptive" in f, float(f.get("eta", 0)))
        elif name == "gam":
            gam_step(obj, base, float(f.get("grad-rho", 0.03)), float(f.get("grad-norm-rho", 0.2)),
                     float(f.get("grad-beta0", 0.1)), float(f.get("grad-beta1", 0.1)),
                     float(f.get("grad-gamma", 0.05)), "adaptive" in f)
        elif name == "forward-grad":
            forward_grad_step(obj, base, dirs[t - 1])
        elif name == "mezo":
            mezo_step(obj, lr_t, float(f.get("zo-eps", 1e-3)), float(f.get("weight-decay", 0)),
                      dirs[t - 1])
        else:
            obj.grad()
            base.step()
        traj.append(obj.flat())
    return np.array(traj)


def flags_of(spec):
    """"--lr 0.1 --nesterov" -> dict, and the argv list."""
    argv = spec.split()
    f, i = {}, 0
    while i < len(argv):
        key = argv[i][2:]
        if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            f[key] = argv[i + 1]
            i += 2
        else:
            f[key] = True
            i += 1
    return f, argv


FN_CASES = [
    ("sgd", "rosenbrock", "--lr 1e-4 --momentum 0.9 --weight-decay 1e-3"),
    ("sgd", "beale", "--lr 1e-3 --momentum 0.8 --nesterov"),
    ("sgd", "himmelblau", "--lr 1e-3 --momentum 0.5 --dampening 0.3"),
    ("adam", "rosenbrock", "--lr 1e-2 --weight-decay 1e-2"),
    ("adamw", "beale", "--lr 1e-2 --weight-decay 0.1"),
    ("diffgrad", "rosenbrock", "--lr 1e-2"),
    ("diffgrad", "himmelblau", "--lr 1e-2 --weight-decay 1e-3"),
    ("ademamix", "rosenbrock", "--lr 1e-2 --alpha 8 --t-alpha 50 --t-beta3 50 --weight-decay 1e-2"),
    ("ademamix", "quadratic:1,10", "--lr 1e-2"),
    ("sam", "rosenbrock", "--base sgd --lr 1e-4 --momentum 0.9 --rho 0.05"),
    ("sam", "himmelblau", "--base adam --lr 1e-2 --adaptive --rho 0.5"),
    ("sam", "rastrigin", "--base sgd --lr 1e-3 --adaptive --eta 0.01 --rho 0.1"),
    ("gam", "rosenbrock", "--base sgd --lr 1e-4 --momentum 0.9"),
    ("gam", "beale", "--base adamw --lr 1e-2 --grad-rho 0.05 --grad-norm-rho 0.1"),
    ("forward-grad", "rosenbrock", "--base sgd --lr 1e-4 --tangents 2 --schedule exp --lr-decay 1e-2 --seed 3"),
    ("forward-grad", "himmelblau", "--base adam --lr 1e-2 --seed 4"),
    ("mezo", "rosenbrock", "--lr 1e-4 --weight-decay 1e-2 --seed 5"),
    ("mezo", "quadratic:1,10", "--lr 1e-2 --zo-samples 3 --seed 6"),
]

MLP_CASES = [
    ("sgd", "--lr 0.05 --momentum 0.9 --weight-decay 1e-3"),
    ("sgd", "--lr 0.05 --momentum 0.9 --nesterov --schedule cosine --warmup 10"),
    ("adam", "--lr 1e-3"),
    ("adamw", "--lr 1e-3 --weight-decay 1e-2"),
    ("diffgrad", "--lr 1e-3"),
    ("ademamix", "--lr 1e-3 --alpha 8 --t-alpha 100 --t-beta3 100"),
    ("sam", "--base sgd --lr 0.05 --momentum 0.9 --rho 0.05"),
    ("sam", "--base adam --lr 1e-3 --adaptive --rho 0.5"),
    ("gam", "--base sgd --lr 0.05 --momentum 0.9"),
    ("forward-grad", "--base sgd --lr 1e-4 --tangents 2 --seed 1"),
    ("mezo", "--lr 1e-3 --weight-decay 1e-2 --seed 2"),
]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: optim_conformance.py BASIN DRIVER")
    basin, driver = (os.path.abspath(p) for p in sys.argv[1:])
    npass = nfail = 0
    worst = {}
    with tempfile.TemporaryDirectory() as tmp:
        theta_mlp = os.path.join(tmp, "theta.npy")
        data = ["--data", "fashion-mnist", "--samples", "64", "--hidden", "16"]
        subprocess.run([basin, "init", *data, "--seed", "1", "--out", theta_mlp], check=True,
                       stdout=subprocess.DEVNULL)
        cases = [(o, fn, s) for o, fn, s in FN_CASES] + [(o, None, s) for o, s in MLP_CASES]
        for optim, fn, spec in cases:
            f, argv = flags_of(spec)
            label = f"{optim} on {fn or 'mlp 784-16-10'} [{spec}]"
            for old in ("traj.npy", "dirs.npy", "x.npy", "y.npy"):
                if os.path.exists(os.path.join(tmp, old)):
                    os.remove(os.path.join(tmp, old))
            where = ["--function", fn] if fn else [*data, "--init", theta_mlp]
            run = subprocess.run([driver, tmp, *where, "--optim", optim, *argv,
                                  "--steps", str(STEPS)], capture_output=True, text=True)
            if run.returncode != 0:
                print(f"FAIL {label}: driver exited {run.returncode}: {run.stderr.strip()}")
                nfail += 1
                continue
            traj_c = np.load(os.path.join(tmp, "traj.npy"))
            n = traj_c.size // (STEPS + 1)
            traj_c = traj_c.reshape(STEPS + 1, n)
            dirs = None
            if optim in ("forward-grad", "mezo"):
                dirs = np.load(os.path.join(tmp, "dirs.npy")).reshape(STEPS, -1, n)
            if fn:
                obj = Objective(traj_c[0].copy(), fn=fn)
            else:
                x = np.load(os.path.join(tmp, "x.npy"))
                y = np.load(os.path.join(tmp, "y.npy"))
                obj = Objective(np.load(theta_mlp), hidden=[16], x=x.reshape(y.size, -1), y=y)
            traj_t = torch_run(obj, optim, f, dirs)
            dev = max(np.max(np.abs(traj_c[t] - traj_t[t])) / max(np.max(np.abs(traj_t[t])), 1e-300)
                      for t in range(STEPS + 1))
            worst[optim] = max(worst.get(optim, 0.0), dev)
            moved = np.max(np.abs(traj_t[-1] - traj_t[0])) / max(np.max(np.abs(traj_t[0])), 1.0)
            ok = dev <= TOL and np.all(np.isfinite(traj_t)) and moved > 1e-6
            print(f"{'PASS' if ok else 'FAIL'} {label}: max rel dev {dev:.3g} over {STEPS} steps"
                  f" (moved {moved:.3g})")
            npass, nfail = npass + ok, nfail + (not ok)
    print("max relative deviation per optimizer: "
          + ", ".join(f"{k} {v:.2g}" for k, v in worst.items()))
    print(f"{npass} passed, {nfail} failed")
    sys.exit(1 if nfail else 0)


if __name__ == "__main__":
    main()
