"""Seed 004 (Hieu): the NTK of a monotone DEQ during training (Prop. 4, eq. 3.14, Lemmas
3.3.3–3.3.4, Hypothesis 2, Condition 2 / Theorem 3.3.5, `_deq_ntk_mondeq`); Prop. 1, Lemma
3.3.2, the implicit gradient and eq. 2.13 (`_deq_ntk_lemmas`); init
scale and solver trajectories (§4.1) and filter-normalised loss landscapes of a DEQ against
weight-tied repeat-6/11/18 networks (§4.2), on sklearn digits (`_deq_ntk_cell`). Compute
functions return plain data, judge functions `Claim`s naming the CLAIMS.md items, draw functions
figures."""

from __future__ import annotations

import time

from experiments import (
    _deq_ntk_cell as cell,
    _deq_ntk_certified as certified,
    _deq_ntk_lemmas as lemmas,
    _deq_ntk_mondeq as mon,
    _deq_ntk_plstar as plstar,
    _deq_ntk_theory as theory,
)
from experiments._cache import cached
from experiments._report import Result

TITLE = (
    "NTK of monotone DEQs in training, init scale and solver paths, DEQ vs weight-tied landscapes"
)

CAPTIONS = {
    "mondeq_ntk_training": "Hieu 2022, §3.3 (no figure in the thesis): full-batch GD on the "
    "thesis's monotone DEQ (no bias, scalar readout) at two widths — the loss against Theorem "
    "3.3.5's rate (1 − ηλ₀²/4)^k (dashed; the theorem's Condition 2 does not hold here), "
    "λmin(K) against σmin(Z)² (eq. 3.14) and the relative movement of the NTK.",
    "init_scale_residual_pca": "Hieu 2022, §4.1.1 Figs 4.1–4.2: relative residuals of the "
    "Anderson iterates of the residual DEQ cell (top, one line per test digit, black the median) "
    "and the PCA of the iterates coloured by class (bottom), with cell weights N(0, 1) (left) "
    "and N(0, 0.01) (right).",
    "solver_paths_during_training": "Hieu 2022, §4.1.2 Fig. 4.3: PCA of the Anderson iterates of "
    "test digits under the DEQ at init, after a third of training and at the end, coloured by "
    "class.",
    "certified_mondeq": "Hieu 2022, §3.3 (no figure in the thesis): a constructed monotone DEQ on "
    "which Conditions 1 and 2 hold as printed — gradient flow against Thm 3.3.1's "
    "exp(−λ₀²t/2)L(0) (left) and GD at fractions of η_max against Thm 3.3.5's (1 − ηλ₀²/4)^k "
    "(right, dashed in the run's colour).",
    "landscapes_contour": "Hieu 2022, §4.2.1 Fig. 4.4: filter-normalised 2-D loss surfaces around "
    "the trained DEQ and weight-tied repeat-6/11/18 networks (digits, not CIFAR-10); the basin "
    "is the fraction of the square with loss ≤ L* + 0.5.",
    "landscape_deq_3d": "Hieu 2022, §4.2.1 Fig. 4.4 (3-D view): the DEQ's loss surface of the "
    "contour panel, clipped at 8.",
}

METHOD_BASE = (
    "Part A: the monotone DEQ of Def. 3.2.1 (ReLU, W = (1−m)I − AᵀA + B − Bᵀ, no biases, scalar "
    "readout uᵀz*, m = 0.5) as cx.models.MonotoneDEQ(..., 'scalar', use_bias=False), solved by "
    "Anderson on the forward–backward map with the implicit adjoint, trained by full-batch GD on "
    "the square loss ½‖ŷ − y‖² with N unit-norm sklearn digits (targets (label − 4.5)/4.5); the "
    "NTK K(t) is computed through the implicit layer by cx.ntk.empirical_ntk (no unrolling) and "
    "compared with Prop. 4's closed form; float64. A second GD run of the same model at η = 1/(4β(θ₀)) (β = λmax of the loss Hessian, measured at every record; η halved when η·β > 1 at a record) checks Thms 2.6.3–2.6.4. Part B: the dense residual cell of eq. (4.1) "
    "(cx.models.DenseResidualCell, group norm with one group and no affine parameters, h = 32) "
    "solved by the library's Anderson step, z^[0] = 0; PCA of all iterates. Part C: the same "
    "cell as a DEQ (Anderson, tol 1e-3, ≤ 100 steps; implicit gradients, backward tol 1e-2, ≤ "
    "200 steps) and as weight-tied repeat-6/11/18 networks, trained with Adam (lr 1e-3, cosine "
    "schedule, global-norm clipping 1; for the DEQ the mean gradient over the examples whose "
    "implicit gradient is finite, the others dropped and counted; non-finite steps skipped) on "
    "CIFAR-10 when CONTRACTAX_DATA holds its python batches (cx.data.load_cifar10), the sklearn "
    "digits otherwise (the seed used MNIST for §4.1 and CIFAR-10 / ImageNet for §4.2), then 2-D "
    "surfaces along two filter-normalised random directions over [−1, 1]², each surface one "
    "vmapped, chunked program (cx.landscape.surface). Part D: a constructed thesis monDEQ (N = 4, "
    "n = 8, m = 0.05) on which Conditions 1 and 2 hold, checked with cx.convergence, trained by "
    "gradient flow (diffrax) and GD at η_max·{1, ½, ¼, ⅛} (same sizes in both modes; full mode "
    "runs 40 GD steps instead of 12). "
)


def run(quick: bool = True) -> Result:
    mode = "quick" if quick else "full"
    seconds = {}

    def part(name, compute):
        t0 = time.perf_counter()
        value = cached(f"deq_ntk/{mode}/{name}", compute)
        seconds[name] = time.perf_counter() - t0
        print(f"  deq_ntk {name}: {seconds[name]:.1f} s", flush=True)
        return value

    training = mon.training(quick, part=lambda k, f: part(f"mondeq_training_v2_{k}", f))
    prop1 = part("prop1", lemmas.prop1)
    pl = part("pl_star", lambda: plstar.compute(quick))
    l332 = part("lemma332", lambda: lemmas.lemma332(training))
    grad = part("implicit_vs_unrolled", lambda: lemmas.implicit_vs_unrolled(training))
    lin = part("linear_regression", lemmas.linear_regression)
    data, data_name = cell.landscape_data(quick)
    tag = "" if data_name == "digits" else "_cifar10"
    land = cell.landscapes(
        quick, data, data_name, part=lambda model, f: part(f"landscapes{tag}_{model}", f)
    )
    paths = part(f"paths{tag}", lambda: cell.paths(quick, data, land["stages"], name=data_name))
    invariance = part("filter_invariance", lemmas.filter_invariance)
    cert_gd = part("certified_gd", lambda: certified.gd(quick))
    cert_flow = part("certified_flow", lambda: certified.flow(quick))
    gd_theory = part("gd_theory", theory.compute)
    l262 = part("lemma262", theory.lemma262)

    train_claims, cond = mon.judge_training(training)
    claims = (
        train_claims
        + plstar.judge(pl, training)
        + lemmas.judge(prop1, l332, grad, lin)
        + cell.judge_landscapes(land)
        + cell.judge_paths(paths)
        + lemmas.judge_filter_invariance(invariance)
        + certified.judge_gd(cert_gd)
        + certified.judge_flow(cert_flow)
        + theory.judge(gd_theory)
        + theory.judge_lemma262(l262)
        + theory.judge_landscape_basin(land)
    )
    figures = {
        "mondeq_ntk_training": mon.draw_training(training, cond),
        "init_scale_residual_pca": cell.draw_init_scale(paths),
        "solver_paths_during_training": cell.draw_stages(paths),
        "certified_mondeq": certified.draw(cert_gd, cert_flow),
    } | cell.draw_landscapes(land)
    names = ("DEQ", "repeat-6", "repeat-11", "repeat-18")
    metrics = {
        "mondeq": {
            n: {k: training[n][k] for k in ("step", "loss", "lam", "smin2", "dk", "prop4_err")}
            | {"eta": training[n]["eta"], "conditions": cond[n]}
            for n in training["widths"]
        },
        "pl_star": {k: pl[k] for k in ("n", "N", "eta", "beta", "dist", "final_loss", "attempts")},
        "prop1": prop1,
        "lemma332": {k: v for k, v in l332.items() if k != "instance"},
        "implicit_vs_unrolled": grad,
        "linear_regression": lin,
        "init_scale": {
            std: {k: v for k, v in r.items() if k not in ("residuals", "coords")}
            for std, r in paths["init"].items()
        },
        "stages": [{k: v for k, v in s.items() if k != "coords"} for s in paths["stages"]],
        "landscapes": {k: {a: b for a, b in land[k].items() if a != "surface"} for k in names},
        "filter_invariance": invariance,
        "gd_theory": gd_theory,
        "lemma262": l262,
        "certified": {
            "gd": {
                str(f): {"eta": r["eta"], "loss": r["loss"], "loss_next": r["loss_next"]}
                for f, r in cert_gd["runs"].items()
            },
            "flow": {k: cert_flow[k] for k in ("ts", "loss", "bound", "lambda0")},
        },
        "seconds": seconds,
    }
    sizes = (
        "Quick mode: N = 16, widths 24/96, 160 GD steps; 384 training images, 200 Adam steps, a "
        "21×21 grid (the seed: 51×51), loss on 192 images."
        if quick
        else "Full mode: N = 50, widths 50/200/800, 3000 GD steps; all training digits (10 000 "
        "CIFAR-10 images), 1500 Adam steps, 51×51 grids, loss on 1024 images."
    )
    return Result(
        claims=claims,
        figures=figures,
        captions=CAPTIONS
        | {
            "landscapes_contour": CAPTIONS["landscapes_contour"].replace(
                "digits, not CIFAR-10",
                "digits, not CIFAR-10" if not tag else "CIFAR-10",
            )
        },
        metrics=metrics,
        method=METHOD_BASE + sizes + f" This run's Part B/C data: {data_name}.",
    )
