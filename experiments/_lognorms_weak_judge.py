"""Judges of the weak-contraction rows of `experiments.lognorms` (seed 001): scalar and
Euclidean equivalences, convexity/monotonicity, weakly and semi-contracting examples,
conservation laws, the four RNN classes and ℓ∞-vs-ℓ2 robustness. Compute and draw functions are
in `_lognorms_weak`."""

from __future__ import annotations

from experiments._report import Claim


def _claim(source, statement, expected, measured, passed, method, items=()):
    return Claim(source, statement, expected, measured, bool(passed), method, items=items)


def judge_equivalences(sc_, eu, cv):
    b = sc_["b"]
    ests = (sc_["derivative"], sc_["quotient"], sc_["pairing"])
    c = eu["c"]
    eu_vals = (eu["lmi"], eu["pair"], eu["jac"], eu["dplus"])
    m = cv["m"]
    return [
        _claim(
            "001 §Scalar maps and vector fields",
            "osLip(F) = b ⇔ F′ ≤ b ⇔ F(x) − F(y) ≤ b(x − y) (x > y) ⇔ (x − y)(F(x) − F(y)) ≤ "
            "b(x − y)²; Lip ℓ ⇒ b ≤ ℓ; b = 0 ⇔ F weakly decreasing; Grönwall |x(t) − y(t)| ≤ "
            "e^{bt}|x(0) − y(0)|",
            f"each sampled form ≤ b = {b:g} (1e-12) and within 1e-3 of it; b ≤ Lip; F = −x³ "
            "gives osLip ≤ 0; Grönwall ratio ≤ 1 (1e-8) and ≥ 0.99 near x = 0 at t = 1",
            f"sup F′ {ests[0]:.6f}, sup quotient {ests[1]:.6f}, sup pairing {ests[2]:.6f}; "
            f"Lip {sc_['lipschitz']:.4f}; −x³: {sc_['weak']:.1e}; Grönwall max ratio "
            f"{sc_['gronwall']:.9f}, near the unstable equilibrium {sc_['tight']:.6f}",
            all(b - 1e-3 <= e <= b + 1e-12 for e in ests)
            and b <= sc_["lipschitz"] + 1e-9
            and sc_["weak"] <= 1e-12
            and sc_["gronwall"] <= 1 + 1e-8
            and sc_["tight"] >= 0.99,
            f"F(x) = −2x + sin 3x (F′ = −2 + 3cos 3x, b = 1, Lip = 5); {sc_['count']} points "
            "x ~ U(−3, 3), pairs y = x + N(0, 0.05²); 65 RK4 pairs, dt = 0.01 to t = 2; "
            "semicontraction.sampled_oslip / oslip_from_pairs.",
            ("001-8",),
        ),
        _claim(
            "001 §Contraction on Euclidean spaces (main equivalences)",
            "❶ (F(x) − F(y))ᵀP(x − y) ≤ −c‖x − y‖²_P ⇔ ❷ PDF + DFᵀP ⪯ −2cP ⇔ ❸ D⁺‖x − y‖_P ≤ "
            "−c‖x − y‖_P: the three give one rate",
            "exact c (2ⁿ slope vertices) = largest c in the LMI ❷ (1e-9); the sampled rates of "
            "❶, ❷ (Jacobians), ❸ (D⁺) are ≥ c and within 1e-6 of it; RK4 pairs ≤ e^{−ct} (1e-8)",
            f"c = {c:.9f}; LMI {eu['lmi']:.9f}; pairs {eu['pair']:.9f}; Jacobians "
            f"{eu['jac']:.9f}; D⁺ {eu['dplus']:.9f}; decay ratio {eu['decay']:.9f}",
            abs(eu["lmi"] - c) <= 1e-9
            and all(c - 1e-9 <= v <= c + 1e-6 for v in eu_vals[1:])
            and eu["decay"] <= 1 + 1e-8,
            f"F(x) = −x + A tanh(x) + u, n = {eu['n']}, ‖A‖₂ = 0.4, random SPD P (not diagonal); "
            f"c = −contraction.hopfield_rate(A, p=2, weight=P); {eu['count']} random pairs plus "
            "one at the worst vertex's state (x_i ∈ {0, 30}) along its worst direction; D⁺ by "
            "the central difference of ‖Δ ± h(F(x) − F(y))‖_P, h = 1e-5 (the norm is smooth at Δ ≠ 0).",
            ("001-9",),
        ),
        _claim(
            "001 §Contraction on Euclidean spaces (convexity, monotonicity)",
            "V m-strongly convex ⇔ −∇V m-strongly contracting; F m-monotone ⇔ −F m-strongly "
            "contracting",
            f"m = λ_min(Q) = {m:.6f}: sampled convexity modulus ≥ m, osLip(−∇V) ≤ −m, "
            "monotonicity ≥ m, osLip(−F) ≤ −m (1e-9), each within 1e-6 of m",
            f"convexity {cv['convexity']:.9f}; osLip(−∇V) {cv['neg_grad']:.9f}; monotone "
            f"{cv['monotone']:.9f}; osLip(−F) {cv['neg_F']:.9f}",
            all(
                m - 1e-9 <= v <= m + 1e-6
                for v in (cv["convexity"], -cv["neg_grad"], cv["monotone"], -cv["neg_F"])
            ),
            f"V = ½xᵀQx + Σ softplus(x_i), n = {cv['n']} (softplus″ → 0 far out, so the modulus "
            "is λ_min(Q), approached at x = 20·𝟙 along Q's bottom eigenvector); F = ∇V + Sx, S "
            f"skew (monotone, not a gradient); {cv['count']} random pairs; osLip(−∇V) from "
            "pairs, osLip(−F) from Jacobians.",
            ("001-10",),
        ),
    ]


def judge_weak(wk, inv, se):
    cases = wk["cases"]
    ok = all(c["ratio"] <= 1 + 1e-8 and c["oslip"] <= 1e-10 for c in cases.values())
    rows = [
        _claim(
            "001 §Weakly contracting systems",
            "osLip(f) ≤ 0 (distances never grow) for Lotka–Volterra (ℓ1, mutualistic), Kuramoto "
            "(ℓ1, ℓ∞), Daganzo's cell transmission model (ℓ1), compartmental systems (ℓ1) and "
            "saddle-point dynamics of a convex problem (ℓ2)",
            "sampled osLip along the solutions ≤ 1e-10 and max distance ratio ≤ 1 + 1e-8 in "
            "every example",
            "; ".join(
                f"{k} (ℓ{c['p']}): osLip {c['oslip']:.1e}, max ratio {c['ratio']:.9f}, "
                f"median final {c['final']:.3f}"
                for k, c in cases.items()
            )
            + f"; Kuramoto arc ≤ {wk['arc']:.3f} < π/2",
            ok,
            f"n = {wk['n']}, {wk['starts']} pairs of RK4 solutions, dt = {wk['dt']}, "
            f"{wk['steps']} steps. Lotka–Volterra ẋ = x∘(r + Ax) in z = log x (ż = r + A e^z, "
            "Persidskii type; A Metzler with column sums −0.1, so μ₁(A dg(e^z)) ≤ 0); Kuramoto "
            "with phases in an arc < π/2 (Jacobian −L(cos), Metzler, zero row and column sums); "
            "cell transmission on a line of cells (no junction, so the slide's non-FIFO case "
            "is not exercised); compartmental with Michaelis–Menten flows x/(1 + x) and "
            "outflows; saddle point of Σ log cosh x_i + λᵀ(Ax − 𝟙) (convex, not strongly).",
            ("001-18",),
        ),
        _claim(
            "001 §Contraction theory for networks (conservation, translation invariance)",
            "ηᵀf = const or f(x + αξ) = f(x) ⇒ osLip(f) ≥ 0 in every norm; with a monotone "
            "(Metzler-Jacobian) f: osLip_{1,[η]}(f) = 0, osLip_{∞,[ξ]⁻¹}(f) = 0",
            "ηᵀDf = 0, Df ξ = 0 (1e-12); min over 6 norms and all samples of μ(Df) ≥ −1e-12; "
            "|μ_{1,η}| and |μ_{∞,ξ}| ≤ 1e-12; a pair y = x + εξ keeps its ℓ∞,ξ distance (1e-8)",
            f"|ηᵀDf| {inv['conservation']:.1e}, |Dfξ| {inv['translation']:.1e}; min μ "
            f"{inv['min_oslip']:.3g}; |μ_{{1,η}}| {inv['mu_conserved']:.1e}, |μ_{{∞,ξ}}| "
            f"{inv['mu_translation']:.1e}; distance drift {inv['keep']:.1e}",
            inv["conservation"] <= 1e-12
            and inv["translation"] <= 1e-12
            and inv["min_oslip"] >= -1e-12
            and inv["mu_conserved"] <= 1e-12
            and inv["mu_translation"] <= 1e-12
            and inv["keep"] <= 1e-8,
            f"closed compartmental system conserving Σ η_i x_i (random η) and Kuramoto in the "
            f"coordinates x_i/ξ_i (random ξ), n = {inv['n']}, {inv['count']} states each; norms "
            "ℓ1, ℓ2, ℓ∞, weighted ℓ1, ℓ∞ (random weight) and ℓ2,P; contractax's ‖x‖_{∞,ξ} = "
            "max|x_i|/ξ_i is the slide's ‖·‖_{∞,[ξ]⁻¹}.",
            ("001-19",),
        ),
        _claim(
            "001 §Semi-contracting systems",
            "Kuramoto oscillators are semi-contracting in a semi-norm with kernel span(𝟙): "
            "osLip_R ≤ −c < 0 while, as a norm, only weakly contracting",
            "consensus semi-norm ‖Rx‖₂: μ_R(−L) = −λ₂(L) at synchrony (1e-12); sampled μ_R ≤ "
            "−λ₂ cos γ; RK4 pairs ≤ e^{−λ₂ cos γ · t} (1e-8); μ₂(−L) = 0 as a norm; ℓ1 "
            "semi-norm of a path incidence, complete graph: μ = −Kn (1e-12)",
            f"λ₂ = {se['lam2']:.4f}, γ = {se['gamma']:.3f}: μ_R at sync {se['sync']:.6f}; "
            f"sampled μ_R {se['mu']:.4f} ≤ −λ₂cos γ = {-se['c']:.4f}; max ratio to the envelope "
            f"{se['bound']:.9f}; fitted late decay rate {se['fit']:.3f} (λ₂ = {se['lam2']:.3f}); "
            f"μ₂(−L) = {se['as_norm']:.1e}; ℓ1 path semi-norm {se['l1']:.6f} (−Kn = "
            f"{se['l1_expected']:.6f})",
            abs(se["sync"] + se["lam2"]) <= 1e-12
            and se["mu"] <= -se["c"] + 1e-12
            and se["bound"] <= 1 + 1e-8
            and abs(se["as_norm"]) <= 1e-12
            and abs(se["l1"] - se["l1_expected"]) <= 1e-12,
            f"n = {se['n']}, random symmetric weights, ω ~ N(0, 0.02²), phases in [0, 1]; "
            "semicontraction.semi_lognorm (kernel invariance checked); the late rate is a "
            "least-squares fit of log(median ratio) on the second half (near the phase-locked "
            "state it approaches λ₂ of the cos-weighted Laplacian). The slide's other examples "
            "(Chua circuits, Turing morphogenesis, Goodwin model) are not simulated here.",
            ("001-20",),
        ),
    ]
    return rows


def judge_rnn_robust(rc, rb):
    cases = rc["cases"]
    ok = all(
        abs(c["rate"] - c["brute"]) <= 1e-12 * (1 + abs(c["brute"]))
        and c["rate"] <= c["sampled"] + 1e-12
        and c["decay"] <= 1 + 1e-8
        for c in cases.values()
    )
    informative = rb["measured"] <= rb["bound_inf"] and rb["bound_inf"] < rb["bound_2"]
    return [
        _claim(
            "001 §Contractivity of recurrent neural networks",
            "rates of the four RNN classes (Hopfield, firing rate, Persidskii ẋ = AΦ(x), "
            "ẋ = Ax − Φ(x)) with slope-restricted activations: max of μ over the slope box",
            "library rate = brute force over the 2ⁿ vertices (1e-12); ≤ sampled-Jacobian rate; "
            "RK4 pair distances ≤ e^{−ct} (1e-8)",
            "; ".join(
                f"{k}: c = {c['rate']:.6f} (brute {c['brute']:.6f}, sampled {c['sampled']:.6f}, "
                f"decay ratio {c['decay']:.9f})"
                for k, c in cases.items()
            ),
            ok,
            f"n = {rc['n']}; Hopfield/firing rate tanh (slopes [0, 1]), Persidskii and "
            "Ax − Φ(x) with Φ(x) = x + tanh(x)/2 (slopes [1, 1.5]; d_min > 0 is needed: "
            "with d_min = 0, osLip(AΦ) ≥ 0 in every norm); contraction.hopfield_rate, "
            "firing_rate_rate, persidskii_rate, lure_rate (μ(A) − d_min).",
            ("001-21",),
        ),
        _claim(
            "001 §Robustness of INNs",
            "for wide-spread input perturbations the ℓ∞ input–output Lipschitz bound is more "
            "informative than the ℓ2 one: for ‖δ‖∞ = ε on all n inputs, Lip∞·ε < √n·Lip₂·ε",
            "measured worst ‖Δy‖∞ ≤ Lip∞ε < √n Lip₂ ε",
            f"ε = {rb['eps']}, n_in = {rb['n_in']}: ℓ∞ bound {rb['bound_inf']:.4f} (Lip∞ "
            f"{rb['lip_inf']:.2f}, μ∞(A) = {rb['mu_inf']:.3f}); ℓ2 route {rb['bound_2']:.4f} "
            f"(Lip₂ {rb['lip_2']:.3f}, μ₂(A) = {rb['mu_2']:.3f}); measured worst "
            f"{rb['measured']:.4f} ({rb['bound_inf'] / rb['measured']:.1f}× below the ℓ∞ "
            f"bound, {rb['bound_2'] / rb['measured']:.1f}× below the ℓ2 route)",
            informative,
            f"random INN x = tanh(Ax + Bu + b), y = Cx, n = {rb['n']} hidden, {rb['n_out']} "
            "outputs, ‖A‖∞ = 0.5, B ~ N(0, 1/n_in), C ~ N(0, 1/n) (untrained); Lip∞ = ‖B‖∞‖C‖∞"
            "/(1 − μ∞(A)₊), Lip₂ = ‖B‖₂‖C‖₂/(1 − μ₂(A)₊); worst case by sign-gradient ascent "
            f"({rb['restarts']} restarts × {rb['iters']} steps, every output, both signs; a "
            "lower bound). On such a network the ℓ2 route is the smaller bound: the claim is "
            "not borne out here.",
            ("001-37",),
        ),
    ]


# ----------------------------------------------------------------------------- run
