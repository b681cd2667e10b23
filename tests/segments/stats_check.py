#!/usr/bin/python3
"""Independent check of `seintje experiment stats` (segments/stats.c): every
statistic of the JSON report is recomputed with SciPy and statsmodels,
implementations we did not write, on inputs from n = 0 to n = 1e12, with zero
and full conversion, 2 to 4 arms and unequal weights.

What is compared with what, and the tolerance (|got - want| <= atol + rtol |want|):
  rate interval      statsmodels proportion_confint(method='wilson')   1e-12, 1e-9
  difference         confint_proportions_2indep(method='newcomb')      1e-12, 1e-9
                     (both asked in non-conversions near full conversion, where
                     the digits are; atol 1e-11 at n = 1e12, where statsmodels'
                     Wilson interval is itself 1.4e-12 off), and both again
                     against the formula in 50-digit decimals            1e-15, 1e-12
  relative           confint_proportions_2indep(compare='ratio',
                     method='log'), minus 1                            1e-12, 1e-9
  z, p-value         proportions_ztest (pooled)                        1e-12 / 1e-300, 1e-9
  Holm               multipletests(method='holm'), also over the
                     sequential p-values                               1e-300, 1e-9
  SRM                scipy.stats.chisquare against the weights         1e-9 / 1e-300,
                     (p-value: regularized gamma vs Cephes)            1e-9 / 1e-7
  P(beats control),  scipy.integrate.quad over scipy.stats.beta pdf    1e-9 (loss
  P(best), loss      and cdf (in 1 - x near 1), for n <= 1e7 (above,   also 1e-7 rel)
                     SciPy's Beta functions lose n * 1e-16 of their digits)
                     and, for every case, a 1,000,000-draw Monte Carlo
                     with a fixed seed                                 5 standard errors
                     + P(best) summing to 1, and equal to P(beats) for two arms
  MDE                statsmodels NormalIndPower.power() at the MDE is
                     the power asked for (it adds the far tail's share)  3e-6
  sample per arm     NormalIndPower.power() reaches the power at n and
                     not at n - 1                                      3e-6
  sequential         the formula of Johari et al. as written in
                     stats.h, recomputed here                          1e-12, 1e-9
(NormalIndPower.solve_power() itself is not used: its root finder stops
1e-5 to 2e-2 short at these sample sizes.) Then the always-valid property of
the sequential interval by simulation: 4,000 A/A experiments looked at 100
times each (the fixed-horizon interval looked at as often errs far more than
alpha). Finally the command's contract: text and CSV output, exit status 2
with a message naming the argument or field on bad input.

Run with /usr/bin/python3 (Debian's python3-scipy, python3-statsmodels).
usage: stats_check.py /path/to/seintje
"""
import csv
import decimal
import io
import json
import math
import subprocess
import sys
import unittest

import numpy as np
from scipy import integrate, stats

D = decimal.Decimal
decimal.getcontext().prec = 50
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (confint_proportions_2indep,
                                          proportion_confint, proportions_ztest)

SEINTJE = None  # from argv


def run(args, stdin=None):
    p = subprocess.run([SEINTJE, "experiment", "stats"] + args, input=stdin,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def report(arms, weights=None, extra=(), via_json=False, control=None):
    """arms: [(name, exposed, converted)] (a 4th item True marks the holdout)."""
    if via_json:
        doc = {"arms": []}
        for i, a in enumerate(arms):
            arm = {"name": a[0], "exposed": a[1], "converted": a[2]}
            if weights:
                arm["weight"] = weights[i]
            if len(a) > 3 and a[3]:
                arm["holdout"] = True
            doc["arms"].append(arm)
        if control:
            doc["control"] = control
        rc, out, err = run(["--format", "json"] + list(extra), json.dumps(doc))
    else:
        args = []
        for a in arms:
            args += ["--arm", f"{a[0]}:{a[1]}:{a[2]}"]
        if weights:
            args += ["--weights", ",".join(str(w) for w in weights)]
        if control:
            args += ["--control", control]
        rc, out, err = run(args + ["--format", "json"] + list(extra))
    if rc != 0:
        raise AssertionError(f"seintje experiment stats failed ({rc}): {err}")
    return json.loads(out)


def close(test, got, want, atol, rtol, what):
    test.assertTrue(math.isfinite(got), f"{what}: {got} is not finite")
    test.assertLessEqual(abs(got - want), atol + rtol * abs(want),
                         f"{what}: got {got!r}, want {want!r}")


# ---- Frequentist references -----------------------------------------------

def wilson_sm(x, n, alpha):
    """statsmodels' Wilson interval, asked in non-conversions near 1."""
    if 2 * x <= n:
        return proportion_confint(x, n, alpha=alpha, method="wilson")
    lo, hi = proportion_confint(n - x, n, alpha=alpha, method="wilson")
    return 1 - hi, 1 - lo


def newcombe_sm(x, n, xc, nc, alpha):
    if 2 * x <= n or 2 * xc <= nc:
        return confint_proportions_2indep(x, n, xc, nc, method="newcomb",
                                          compare="diff", alpha=alpha)
    lo, hi = confint_proportions_2indep(n - x, n, nc - xc, nc, method="newcomb",
                                        compare="diff", alpha=alpha)
    return -hi, -lo


def wilson_decimal(x, n, alpha):
    z = D(stats.norm.isf(alpha / 2))
    n, p = D(n), D(x) / D(n)
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * (p * (1 - p) / n + z * z / (4 * n * n)).sqrt() / den
    return p, max(D(0), c - h), min(D(1), c + h)


def wilson_exact(x, n, alpha):
    """The same formula in 50-digit decimals: what the doubles should give."""
    _, lo, hi = wilson_decimal(x, n, alpha)
    return float(lo), float(hi)


def newcombe_exact(x, n, xc, nc, alpha):
    pv, lv, uv = wilson_decimal(x, n, alpha)
    pc, lc, uc = wilson_decimal(xc, nc, alpha)
    d = pv - pc
    return (float(max(D(-1), d - ((pv - lv) ** 2 + (uc - pc) ** 2).sqrt())),
            float(min(D(1), d + ((uv - pv) ** 2 + (pc - lc) ** 2).sqrt())))


# ---- Bayesian references ---------------------------------------------------

# SciPy 1.10's Beta density and distribution function (Cephes, differences of
# log-gamma values) lose about n * 1e-16 of relative precision: their integral
# over [0, 1] is off by 4e-9 at n = 1e9 and 8e-6 at n = 1e12. Above this n
# the Bayesian numbers are checked by Monte Carlo only.
QUAD_MAX_N = 10**7

class Posterior:
    """Beta(1 + x, 1 + n - x), evaluated in whichever of x and y = 1 - x
    keeps its digits (scipy itself loses them in x near 1)."""

    def __init__(self, n, x):
        self.a, self.b = 1.0 + x, 1.0 + n - x
        self.mean = self.a / (self.a + self.b)
        s = self.a + self.b
        self.sd = math.sqrt(self.a * self.b / (s * s * (s + 1)))
        self.p = stats.beta(self.a, self.b)    # of x
        self.q = stats.beta(self.b, self.a)    # of y = 1 - x

    def upper(self):
        return self.mean > 0.5

    def cdf(self, x, y):  # P(p < x), given x and y = 1 - x
        return self.p.cdf(x) if x < 0.5 else self.q.sf(y)

    def pdf(self, x, y):
        return self.p.pdf(x) if x < 0.5 else self.q.pdf(y)


def pieces(posts, lo_half):
    """Break points in the half [0, 0.5] of x (lo_half) or of y: each
    posterior's mean +- k sd in that coordinate, so quad sees every peak."""
    pts = {0.0, 0.5}
    for p in posts:
        centre = p.a / (p.a + p.b) if lo_half else p.b / (p.a + p.b)
        for k in (-40, -20, -12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12, 20, 40):
            v = centre + k * p.sd
            if 0 < v < 0.5:
                pts.add(v)
    pts = sorted(pts)
    return list(zip(pts[:-1], pts[1:]))


def integral(fun_xy, posts):
    """int_0^1 fun(x, y) dx with y = 1 - x, as int over [0, .5] in x plus int
    over [0, .5] in y."""
    total = 0.0
    for a, b in pieces(posts, True):
        total += integrate.quad(lambda x: fun_xy(x, 1 - x), a, b, epsabs=1e-14,
                                epsrel=1e-12, limit=200)[0]
    for a, b in pieces(posts, False):
        total += integrate.quad(lambda y: fun_xy(1 - y, y), a, b, epsabs=1e-14,
                                epsrel=1e-12, limit=200)[0]
    return total


def bayes_reference(arms, control):
    posts = [Posterior(n, x) for _, n, x, *_ in arms]
    k = len(posts)

    def prod_cdf(x, y, skip=None):
        r = 1.0
        for j, p in enumerate(posts):
            if j != skip:
                r *= p.cdf(x, y)
        return r

    best = [integral(lambda x, y, i=i: posts[i].pdf(x, y) * prod_cdf(x, y, i), posts)
            for i in range(k)]
    beat = [integral(lambda x, y, i=i: posts[i].pdf(x, y) * posts[control].cdf(x, y),
                     posts) if i != control else None for i in range(k)]
    # E[max] = int_0^1 (1 - prod F) dx; the loss E[max] - mean keeps its
    # digits when written as int_0^1 (1 - prod F) - (1 - F_i) dx = int (F_i - prod F)
    loss = [integral(lambda x, y, i=i: posts[i].cdf(x, y) - prod_cdf(x, y), posts)
            for i in range(k)]
    return best, beat, loss


def monte_carlo(arms, control, draws=1_000_000, seed=20261129):
    rng = np.random.default_rng(seed)
    sample = np.stack([rng.beta(1 + x, 1 + n - x, draws) for _, n, x, *_ in arms])
    top = sample.argmax(axis=0)
    best = [(top == i).mean() for i in range(len(arms))]
    beat = [(sample[i] > sample[control]).mean() for i in range(len(arms))]
    loss = [(sample.max(axis=0) - sample[i]).mean() for i in range(len(arms))]
    loss_se = [(sample.max(axis=0) - sample[i]).std() / math.sqrt(draws)
               for i in range(len(arms))]
    return best, beat, loss, loss_se


# ---- The cases -------------------------------------------------------------

CASES = [
    # name, arms [(name, n, x[, holdout])], weights, extra args, via_json
    ("basic", [("control", 1000, 120), ("B", 1000, 150)], None, [], False),
    ("zero-both", [("control", 500, 0), ("B", 500, 0)], None, [], False),
    ("zero-control", [("control", 500, 0), ("B", 500, 7)], None, [], False),
    ("full", [("control", 200, 200), ("B", 200, 195)], None, [], False),
    ("full-both", [("control", 300, 300), ("B", 300, 300)], None, [], False),
    ("tiny", [("control", 1, 0), ("B", 1, 1)], None, [], False),
    ("tiny-2", [("control", 1, 1), ("B", 2, 1), ("C", 3, 0)], None, [], False),
    ("unexposed", [("control", 0, 0), ("B", 10, 3), ("C", 12, 4)], None, [], False),
    ("huge", [("control", 10**9, 12 * 10**7), ("B", 10**9, 120050000)], None, [], False),
    ("huge-rare", [("control", 10**9, 10), ("B", 10**9, 25)], None, [], False),
    ("huge-near-1", [("control", 10**9, 10**9 - 10), ("B", 10**9, 10**9 - 1)], None, [],
     False),
    ("huge-1e12", [("control", 10**12, 12 * 10**10), ("B", 10**12, 120000300000),
                   ("C", 10**12, 119999700000)], None, [], False),
    ("holdout-weights", [("plain", 4500, 450), ("deadline", 4480, 500),
                         ("holdout", 1020, 90, True)], [45, 45, 10], [], True),
    ("four-arms", [("control", 5000, 400), ("B", 5100, 455), ("C", 4900, 380),
                   ("D", 5050, 470)], None, ["--alpha", "0.1", "--power", "0.9",
                                             "--effect", "0.02"], False),
    ("srm", [("control", 1000, 100), ("B", 1200, 130)], [50, 50], [], False),
    ("unequal", [("control", 20000, 1000), ("B", 60000, 3300)], [25, 75],
     ["--baseline", "0.07"], True),
    ("wide-narrow", [("control", 100000, 5000), ("B", 20, 3)], None, [], False),
    ("sequential", [("control", 8000, 800), ("B", 8000, 900), ("C", 8000, 790)], None,
     ["--sequential", "--tau", "0.03"], False),
]


class Compare(unittest.TestCase):
    def check_case(self, case):
        name, arms, weights, extra, via_json = case
        r = report(arms, weights, extra, via_json)
        alpha, power = r["alpha"], r["power"]
        names = [a[0] for a in arms]
        # statsmodels' own Wilson interval is off by 1.4e-12 at n = 1e12
        # (checked against 50-digit decimals), so its tolerance grows there
        atol = 1e-12 if max(a[1] for a in arms) <= 10**9 else 1e-11
        control = names.index(r["control"])
        self.assertEqual([a["name"] for a in r["arms"]], names)
        nc, xc = arms[control][1], arms[control][2]
        # per arm: Wilson
        for a, got in zip(arms, r["arms"]):
            n, x = a[1], a[2]
            self.assertEqual((got["exposed"], got["converted"]), (n, x))
            if n == 0:
                self.assertIsNone(got["rate"])
                self.assertEqual(got["rate_ci"], [0, 1])
                continue
            lo, hi = wilson_sm(x, n, alpha)
            what = f"{name} {a[0]}"
            close(self, got["rate"], x / n, 1e-15, 1e-12, what + " rate")
            close(self, got["rate_ci"][0], lo, atol, 1e-9, what + " wilson lo")
            close(self, got["rate_ci"][1], hi, atol, 1e-9, what + " wilson hi")
            lo, hi = wilson_exact(x, n, alpha)
            close(self, got["rate_ci"][0], lo, 1e-15, 1e-12, what + " wilson lo (exact)")
            close(self, got["rate_ci"][1], hi, 1e-15, 1e-12, what + " wilson hi (exact)")
        # comparisons
        pvals, seqp, idx = [], [], []
        for i, (a, got) in enumerate(zip(arms, r["arms"])):
            if i == control:
                self.assertNotIn("vs_control", got)
                continue
            vs = got["vs_control"]
            n, x = a[1], a[2]
            if n == 0 or nc == 0:
                self.assertFalse(vs["comparable"])
                self.assertEqual(vs["verdict"], "too-early")
                continue
            self.assertTrue(vs["comparable"])
            what = f"{name} {a[0]}"
            close(self, vs["diff"], x / n - xc / nc, 1e-15, 1e-9, what + " diff")
            lo, hi = newcombe_sm(x, n, xc, nc, alpha)
            close(self, vs["diff_ci"][0], lo, atol, 1e-9, what + " newcombe lo")
            close(self, vs["diff_ci"][1], hi, atol, 1e-9, what + " newcombe hi")
            lo, hi = newcombe_exact(x, n, xc, nc, alpha)
            close(self, vs["diff_ci"][0], lo, 1e-15, 1e-12, what + " newcombe lo (exact)")
            close(self, vs["diff_ci"][1], hi, 1e-15, 1e-12, what + " newcombe hi (exact)")
            if x > 0 and xc > 0:
                lo, hi = confint_proportions_2indep(x, n, xc, nc, method="log",
                                                    compare="ratio", alpha=alpha)
                close(self, vs["rel"], (x / n) / (xc / nc) - 1, 1e-12, 1e-9, what + " rel")
                close(self, vs["rel_ci"][0], lo - 1, 1e-12, 1e-9, what + " ratio lo")
                close(self, vs["rel_ci"][1], hi - 1, 1e-12, 1e-9, what + " ratio hi")
            else:
                self.assertIsNone(vs["rel"])
                self.assertIsNone(vs["rel_ci"])
            pooled = (x + xc) / (n + nc)
            if 0 < pooled < 1:
                if pooled <= 0.5:
                    z, p = proportions_ztest([x, xc], [n, nc])
                else:  # in non-conversions, where the digits are
                    z, p = proportions_ztest([n - x, nc - xc], [n, nc])
                    z = -z
                close(self, vs["z"], z, 1e-12, 1e-9, what + " z")
                close(self, vs["p_value"], p, 1e-300, 1e-9, what + " p")
                # statsmodels' power at the MDE is the power asked for (plus
                # the far tail's share, below 2e-6)
                sigma = math.sqrt(pooled * (1 - pooled))
                got_power = NormalIndPower().power(effect_size=vs["mde"] / sigma, nobs1=nc,
                                                   alpha=alpha, ratio=n / nc)
                close(self, got_power, power, 0, 3e-6, what + " power at the MDE")
                self.assertGreaterEqual(got_power, power - 1e-9, what + " power at MDE")
            else:
                self.assertEqual((vs["z"], vs["p_value"]), (0, 1))
                self.assertIsNone(vs["mde"])
            self.check_sequential(vs, n, x, nc, xc, alpha, r["tau"], what)
            pvals.append(vs["p_value"])
            seqp.append(vs["sequential"]["p_value"])
            idx.append(i)
        if pvals:
            holm = multipletests(pvals, method="holm")[1]
            sholm = multipletests(seqp, method="holm")[1]
            for i, h, s in zip(idx, holm, sholm):
                vs = r["arms"][i]["vs_control"]
                close(self, vs["p_holm"], h, 1e-300, 1e-9, f"{name} {names[i]} holm")
                close(self, vs["sequential"]["p_holm"], s, 1e-300, 1e-9,
                      f"{name} {names[i]} seq holm")
        self.check_srm(r, arms, weights, name)
        self.check_sample_size(r, arms, control, alpha, power, extra, name)
        self.check_bayes(r, arms, control, name)
        self.check_verdicts(r, control, alpha, name)

    def check_sequential(self, vs, n, x, nc, xc, alpha, tau, what):
        pv, pc = (x + 1) / (n + 2), (xc + 1) / (nc + 2)
        var = pv * (1 - pv) / (n + 2) + pc * (1 - pc) / (nc + 2)
        t2 = tau * tau
        d = pv - pc
        half = math.sqrt(var * (var + t2) / t2 * (2 * math.log(1 / alpha) +
                                                 math.log((var + t2) / var)))
        p = min(1.0, math.sqrt((var + t2) / var) * math.exp(-t2 * d * d /
                                                            (2 * var * (var + t2))))
        seq = vs["sequential"]
        close(self, seq["ci"][0], max(-1, d - half), 1e-12, 1e-9, what + " seq lo")
        close(self, seq["ci"][1], min(1, d + half), 1e-12, 1e-9, what + " seq hi")
        close(self, seq["p_value"], p, 1e-300, 1e-9, what + " seq p")

    def check_srm(self, r, arms, weights, name):
        srm = r["srm"]
        exposed = np.array([a[1] for a in arms], dtype=float)
        self.assertEqual(srm["weights_assumed"], weights is None)
        if exposed.sum() == 0:
            self.assertFalse(srm["tested"])
            return
        w = np.array(weights if weights else [1] * len(arms), dtype=float)
        chi2, p = stats.chisquare(exposed, exposed.sum() * w / w.sum())
        close(self, srm["chi2"], chi2, 1e-9, 1e-9, name + " srm chi2")
        close(self, srm["p_value"], p, 1e-300, 1e-7, name + " srm p")
        self.assertEqual(srm["df"], len(arms) - 1)
        self.assertEqual(srm["mismatch"], p < 0.001)
        self.assertEqual(any("sample ratio mismatch" in w for w in r["warnings"]),
                         p < 0.001)

    def check_sample_size(self, r, arms, control, alpha, power, extra, name):
        ss = r["sample_size"]
        base = float(extra[extra.index("--baseline") + 1]) if "--baseline" in extra \
            else (arms[control][2] / arms[control][1] if arms[control][1] else 0)
        close(self, ss["baseline"], base, 1e-15, 1e-12, name + " baseline")
        if not 0 < base < 1:
            self.assertIsNone(ss["n_per_arm"])
            return
        es = r["effect"] / math.sqrt(base * (1 - base))
        n = ss["n_per_arm"]
        pw = NormalIndPower().power(effect_size=es, nobs1=n, alpha=alpha, ratio=1)
        self.assertGreaterEqual(pw, power - 1e-9, name + " power of n per arm")
        if n > 1:
            below = NormalIndPower().power(effect_size=es, nobs1=n - 1, alpha=alpha,
                                           ratio=1)
            self.assertLess(below, power + 3e-6, name + " power of n - 1 per arm")

    def check_bayes(self, r, arms, control, name):
        total = 0
        for got in r["arms"]:
            total += got["prob_best"]
        close(self, total, 1, 1e-9, 0, name + " sum of P(best)")
        if len(arms) == 2:  # P(best) of the variant is P(it beats the control)
            v = 1 - control
            close(self, r["arms"][v]["prob_best"],
                  r["arms"][v]["vs_control"]["prob_beat_control"], 1e-12, 0, name)
        if max(a[1] for a in arms) <= QUAD_MAX_N:
            best, beat, loss = bayes_reference(arms, control)
            for i, got in enumerate(r["arms"]):
                what = f"{name} {arms[i][0]}"
                close(self, got["prob_best"], best[i], 1e-9, 0, what + " P(best)")
                close(self, got["expected_loss"], loss[i], 1e-9, 1e-7, what + " loss")
                if i != control:
                    close(self, got["vs_control"]["prob_beat_control"], beat[i], 1e-9, 0,
                          what + " P(beat)")
        mb, mbeat, ml, ml_se = monte_carlo(arms, control)
        for i, got in enumerate(r["arms"]):
            what = f"{name} {arms[i][0]} (Monte Carlo)"
            se = math.sqrt(max(mb[i] * (1 - mb[i]), 1e-12) / 1e6)
            close(self, got["prob_best"], mb[i], 5 * se + 1e-6, 0, what + " P(best)")
            close(self, got["expected_loss"], ml[i], 5 * ml_se[i] + 1e-9, 0,
                  what + " loss")
            if i != control:
                se = math.sqrt(max(mbeat[i] * (1 - mbeat[i]), 1e-12) / 1e6)
                close(self, got["vs_control"]["prob_beat_control"], mbeat[i],
                      5 * se + 1e-6, 0, what + " P(beat)")

    def check_verdicts(self, r, control, alpha, name):
        seqmode = r["sequential"]
        for i, got in enumerate(r["arms"]):
            if i == control:
                self.assertEqual(got["role"] in ("control", "holdout"), True)
                continue
            vs = got["vs_control"]
            if not vs["comparable"]:
                continue
            ci = vs["sequential"]["ci"] if seqmode else vs["diff_ci"]
            p = vs["sequential"]["p_holm"] if seqmode else vs["p_holm"]
            few = got["exposed"] < 30 or r["arms"][control]["exposed"] < 30
            sig = not few and p < alpha and (ci[0] > 0 or ci[1] < 0)
            if sig:
                self.assertEqual(vs["verdict"], "raised" if ci[0] > 0 else "lowered", name)
                self.assertIn(("raised" if ci[0] > 0 else "lowered") + " uptake by",
                              vs["verdict_text"])
            elif few or vs["mde"] is None or vs["mde"] > r["effect"]:
                self.assertEqual(vs["verdict"], "too-early", name)
                self.assertIn("too early to tell", vs["verdict_text"])
            else:
                self.assertEqual(vs["verdict"], "no-difference", name)
                self.assertIn("no detectable difference", vs["verdict_text"])


def _make(case):
    def test(self):
        self.check_case(case)
    return test


for _case in CASES:
    setattr(Compare, "test_" + _case[0].replace("-", "_"), _make(_case))


class Behaviour(unittest.TestCase):
    def test_expected_values(self):
        """Hand-checked: equal arms are a coin toss; 1/1 against 0/0 beats
        it with P = 2/3 (Beta(2,1) against the uniform)."""
        r = report([("control", 400, 40), ("B", 400, 40)])
        self.assertAlmostEqual(r["arms"][1]["vs_control"]["prob_beat_control"], 0.5, 12)
        r = report([("control", 0, 0), ("B", 1, 1)])
        self.assertAlmostEqual(r["arms"][1]["vs_control"]["prob_beat_control"], 2 / 3, 12)

    def test_always_valid(self):
        """The sequential interval (as in stats.h) looked at 100 times in
        4,000 A/A experiments excludes 0 at some look in at most alpha of
        them; the fixed-horizon Wald interval looked at as often does not."""
        rng = np.random.default_rng(7)
        sims, looks, step, rate, alpha, tau = 4000, 100, 200, 0.1, 0.05, 0.02
        xa = rng.binomial(step, rate, (sims, looks)).cumsum(axis=1)
        xb = rng.binomial(step, rate, (sims, looks)).cumsum(axis=1)
        n = step * np.arange(1, looks + 1)
        pa, pb = (xa + 1) / (n + 2), (xb + 1) / (n + 2)
        var = pa * (1 - pa) / (n + 2) + pb * (1 - pb) / (n + 2)
        half = np.sqrt(var * (var + tau ** 2) / tau ** 2 *
                       (2 * math.log(1 / alpha) + np.log((var + tau ** 2) / var)))
        seq_err = (np.abs(pb - pa) > half).any(axis=1).mean()
        wald_err = (np.abs(pb - pa) > 1.959964 * np.sqrt(var)).any(axis=1).mean()
        self.assertLessEqual(seq_err, alpha)
        self.assertGreater(wald_err, 2 * alpha)
        # the command agrees with the formula used here
        r = report([("control", 20000, 2000), ("B", 20000, 2100)], extra=["--sequential"])
        seq = r["arms"][1]["vs_control"]["sequential"]
        p1, p2 = 2001 / 20002, 2101 / 20002
        v = p1 * (1 - p1) / 20002 + p2 * (1 - p2) / 20002
        h = math.sqrt(v * (v + tau ** 2) / tau ** 2 *
                      (2 * math.log(20) + math.log((v + tau ** 2) / v)))
        close(self, seq["ci"][1] - seq["ci"][0], 2 * h, 1e-12, 1e-9, "seq width")

    def test_text_and_csv(self):
        args = ["--arm", "control:1000:120", "--arm", "B:1000:150", "--arm", "C:10:1"]
        rc, out, err = run(args)
        self.assertEqual(rc, 0, err)
        for want in ("Wilson", "Newcombe", "B vs control", "Verdicts:", "Warnings:",
                     "arm C: only 10 exposures", "too early to tell",
                     "equal weights assumed"):
            self.assertIn(want, out)
        rc, out, err = run(args + ["--format", "csv"])
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual([row["arm"] for row in rows], ["control", "B", "C"])
        self.assertEqual(rows[0]["diff"], "")
        self.assertAlmostEqual(float(rows[1]["diff"]), 0.03, 12)
        self.assertEqual(rows[2]["verdict"], "too-early")

    def test_bad_input(self):
        bad = [
            (["--arm", "B:1000"], "--arm \"B:1000\": expected NAME:EXPOSED:CONVERTED"),
            (["--arm", "c:10:1", "--arm", "B:100:150"], "150 converted is more than"),
            (["--arm", "c:10:1", "--arm", "B:x:1"], "EXPOSED must be a whole number"),
            (["--arm", "c:10:1", "--arm", "B c:1:1"], "the name must be"),
            (["--arm", "c:10:1"], "give at least two"),
            (["--arm", "c:10:1", "--arm", "c:10:1"], "given twice"),
            (["--arm", "c:10:1", "--arm", "b:10:1", "--weights", "50"], "--weights"),
            (["--arm", "c:10:1", "--arm", "b:10:1", "--weights", "50,-1"], "weight 2"),
            (["--arm", "c:10:1", "--arm", "b:10:1", "--control", "x"], "control \"x\""),
            (["--arm", "c:10:1", "--arm", "b:10:1", "--alpha", "2"], "--alpha 2"),
            (["--arm", "c:10:1", "--arm", "b:10:1", "--effect", "x"], "--effect"),
            (["--arm", "c:10:1", "--arm", "b:10:1", "--format", "xml"], "--format"),
            (["--arm", "c:10:1", "--arm", "b:10:1", "--bogus"], "unknown option"),
            (["--arm"], "--arm needs a value"),
        ]
        for args, want in bad:
            rc, out, err = run(args, "")
            self.assertEqual(rc, 2, f"{args}: {err}")
            self.assertIn(want, err, f"{args}")
            self.assertEqual(out, "", f"{args}")
        bad_json = [
            ("{", "<stdin>:1:1"),
            ('{"arms": 3}', "$.arms: expected an array"),
            ('{"arms": [{"name": "a", "exposed": 1}]}', "$.arms[0].converted: missing"),
            ('{"arms": [{"name": "a", "exposed": 1.5, "converted": 0}]}',
             "$.arms[0].exposed: expected a whole number"),
            ('{"arms": [{"name": "a", "exposed": 1, "converted": 0, "x": 1}]}',
             "$.arms[0].x: unknown key"),
            ('{"arms": [{"name": "a", "exposed": 1, "converted": 0, "weight": 1},'
             '{"name": "b", "exposed": 1, "converted": 0}]}', "give a weight for every arm"),
            ('{"arms": [], "extra": 1}', "$.extra: unknown key"),
        ]
        bad_json.append(("", "<stdin> is empty"))
        for doc, want in bad_json:
            rc, out, err = run([], doc)
            self.assertEqual(rc, 2, f"{doc}: {err}")
            self.assertIn(want, err, doc)
        rc, out, _ = run(["--help"])
        self.assertEqual(rc, 0)
        for want in ("Wilson", "Newcombe", "Holm", "delta method", "chi-square",
                     "Johari", "--sequential", "--json"):
            self.assertIn(want, out)
        p = subprocess.run([SEINTJE, "experiment", "report"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("give one experiment id", p.stderr)
        p = subprocess.run([SEINTJE, "experiment", "rebuild"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("give one experiment id", p.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: stats_check.py /path/to/seintje")
    SEINTJE = sys.argv.pop(1)
    unittest.main(verbosity=2)
