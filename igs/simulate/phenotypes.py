"""Health records for a simulated cohort, drawn from a known proportional-hazards model.

Disease onset follows a Gompertz baseline hazard in age, multiplied by
``exp(eta)`` where ``eta`` adds the true PRS (per SD), sex, BMI, smoking, blood
pressure and a latent omics factor. Death is a competing risk. The model's
log hazard ratios are written to the cohort's ``truth.json`` so that later stages
can be checked for recovering them.

Besides CAD and T2D (whose draws come first and are unchanged by what follows), men get
prostate cancer (``SEX_SPECIFIC``: ICD-10 C61 from the cancer registry, planted on the
``IGS_SIM_LDL`` score), and every T2D case still alive buys metformin (ATC A10BA02) 30-400 days
after onset and again a year later. Diagnoses carry a ``source``: the first record of a disease
is ``inpatient``, repeats and background codes ``outpatient``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from igs import columns as C

DAYS_PER_YEAR = 365.25
N_ANALYTES = 20
ANALYTES = tuple(f"OM{k:02d}" for k in range(1, N_ANALYTES + 1))
BACKGROUND_CODES = ("J45.9", "K21.0", "M54.5", "I10", "E78.0", "N39.0", "F32.9", "H52.1")

# Covariates enter the hazard standardised: (value - centre) / scale.
COVARIATE_SCALING = {"bmi": (27.0, 4.5), "sbp": (130.0, 15.0)}


@dataclass(frozen=True)
class DiseaseModel:
    """True hazard model of one simulated endpoint."""

    name: str
    score: str  # pgs_id of the causal score
    icd10: tuple[str, ...]  # codes written at onset
    baseline_rate: float  # Gompertz lambda (per year)
    baseline_shape: float  # Gompertz gamma (per year of age)
    log_hr: dict[str, float] = field(default_factory=dict)
    omics_markers: tuple[str, ...] = ()  # analytes that load on this disease's latent factor
    post_onset_marker: str = ""  # analyte that rises after onset (reverse causation)
    post_onset_shift: float = 2.5
    # effect modification of the score: its log HR per SD is
    # prs_sd + prs_x_male * male + prs_x_age_decade * (age - PRS_AGE_CENTRE) / 10
    prs_x_male: float = 0.0
    prs_x_age_decade: float = 0.0


DISEASES = (
    DiseaseModel(
        "CAD",
        "IGS_SIM_CAD",
        ("I21.9", "I25.1"),
        2.0e-5,
        0.08,
        {
            "prs_sd": 0.47,
            "male": 0.60,
            "bmi_sd": 0.15,
            "current_smoker": 0.55,
            "sbp_sd": 0.25,
            "omics_sd": 0.35,
        },
        omics_markers=("OM01", "OM02", "OM03", "OM04"),
        post_onset_marker="OM01",
    ),
    DiseaseModel(
        "T2D",
        "IGS_SIM_T2D",
        ("E11.9",),
        7.5e-5,
        0.06,
        {
            "prs_sd": 0.40,
            "male": 0.30,
            "bmi_sd": 0.60,
            "current_smoker": 0.10,
            "sbp_sd": 0.05,
            "omics_sd": 0.45,
        },
        omics_markers=("OM05", "OM06", "OM07", "OM08"),
        post_onset_marker="OM05",
    ),
)
# Drawn after everything above, so CAD and T2D stay as they were.
SEX_SPECIFIC = DiseaseModel(
    "PROSTATE_CANCER",
    "IGS_SIM_LDL",
    ("C61",),
    1.5e-6,
    0.12,
    {"prs_sd": 0.50, "current_smoker": 0.10},
)
SEX_SPECIFIC_SEX = "male"
PRS_AGE_CENTRE = 60.0  # age at which prs_x_age_decade leaves the score's log HR at prs_sd
METFORMIN = "A10BA02"
DEATH = {
    "baseline_rate": 2.5e-5,
    "baseline_shape": 0.09,
    "log_hr": {"male": 0.40, "current_smoker": 0.70},
}


def gompertz_age(
    rate: np.ndarray, shape: float, unit_exp: np.ndarray, *, alive_at: np.ndarray | None = None
) -> np.ndarray:
    """Invert the Gompertz cumulative hazard ``rate / shape * (exp(shape * a) - 1)``.

    With ``alive_at`` the draw is conditional on surviving to that age.
    """
    h0 = 0.0 if alive_at is None else rate / shape * np.expm1(shape * alive_at)
    return np.log1p(shape * (h0 + unit_exp) / rate) / shape


def modified(diseases: tuple[DiseaseModel, ...], prs_modifiers: dict) -> tuple[DiseaseModel, ...]:
    """``diseases`` with the score's effect modifiers of ``prs_modifiers`` (disease name ->
    {"prs_x_male": ..., "prs_x_age_decade": ...}) set; unknown names fail."""
    from dataclasses import replace

    from igs.errors import IGSError

    names = {d.name for d in diseases}
    unknown = sorted(set(prs_modifiers) - names)
    if unknown:
        raise IGSError(
            f"prs_modifiers: unknown disease(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}."
        )
    out = []
    for d in diseases:
        mods = prs_modifiers.get(d.name, {})
        bad = sorted(set(mods) - {"prs_x_male", "prs_x_age_decade"})
        if bad:
            raise IGSError(
                f"prs_modifiers[{d.name}]: unknown key(s) {', '.join(bad)}; "
                "use prs_x_male and prs_x_age_decade."
            )
        out.append(replace(d, **{k: float(v) for k, v in mods.items()}))
    return tuple(out)


def hazard_parameters(d: DiseaseModel, x: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each person's true onset hazard ``rate * exp(shape * age)`` under ``d``: the score's age
    term makes ``eta`` linear in age, so a Gompertz law with a person-specific rate and shape."""
    eta = sum(d.log_hr[k] * x[k] for k in d.log_hr)
    prs = x["prs_sd"]
    eta = eta + d.prs_x_male * prs * x["male"] - d.prs_x_age_decade * prs * PRS_AGE_CENTRE / 10
    shape = d.baseline_shape + d.prs_x_age_decade * prs / 10
    return d.baseline_rate * np.exp(eta), np.broadcast_to(shape, np.shape(eta)).astype(float)


def onset_ages(d: DiseaseModel, x: dict[str, np.ndarray], unit_exp: np.ndarray) -> np.ndarray:
    """Onset ages under ``d``'s hazard (:func:`hazard_parameters`). A shape <= 0 (a strongly
    age-decreasing effect at a high score) bounds the cumulative hazard by ``-rate / shape``:
    draws beyond it never fall ill (infinite onset age)."""
    rate, shape = hazard_parameters(d, x)
    if np.all(shape > 0):  # the default models: exactly the original draws
        return gompertz_age(rate, shape, unit_exp)
    flat = np.abs(shape) < 1e-12
    safe = np.where(flat, 1.0, shape)
    arg = safe * unit_exp / rate
    with np.errstate(invalid="ignore", divide="ignore"):
        age = np.where(arg > -1, np.log1p(np.maximum(arg, -1)) / safe, np.inf)
    return np.where(flat, unit_exp / rate, age)


def simulate_health_records(
    people: pd.DataFrame,
    rng: np.random.Generator,
    *,
    recruitment: tuple[str, str] = ("2006-01-01", "2010-12-31"),
    entry_age: tuple[float, float] = (40.0, 70.0),
    admin_end: str = "2023-12-31",
    loss_to_followup: float = 0.05,
    prs_modifiers: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict, pd.DataFrame]:
    """Draw clinical, diagnoses and omics tables for ``people``.

    ``people`` has IID, male (genetic sex, bool), reported_male (bool) and
    ``prs_z_<pgs_id>`` columns. ``prs_modifiers`` plants a sex- and age-specific score effect
    (see :func:`modified`; none by default, which leaves every draw as it was). Returns
    (clinical, diagnoses, omics, per-person truth, model truth, medications).
    """
    diseases = modified(DISEASES, prs_modifiers or {})
    n = len(people)
    iid = people[C.IID].to_numpy()
    male = people["male"].to_numpy(bool)

    rec_lo, rec_hi = np.datetime64(recruitment[0]), np.datetime64(recruitment[1])
    entry = rec_lo + rng.integers(0, int((rec_hi - rec_lo).astype(int)) + 1, size=n).astype(
        "timedelta64[D]"
    )
    age_entry = rng.uniform(*entry_age, size=n)
    birth = entry - np.round(age_entry * DAYS_PER_YEAR).astype("timedelta64[D]")
    age_entry = (entry - birth).astype(float) / DAYS_PER_YEAR

    smoking = rng.choice(np.array(["never", "former", "current"]), p=[0.55, 0.30, 0.15], size=n)
    current = smoking == "current"
    omics_u = {d.name: rng.standard_normal(n) for d in DISEASES}
    bmi = 27.0 + 0.5 * omics_u["T2D"] + 0.6 * male + rng.normal(0, 4.3, size=n)
    sbp = 130.0 + 5.0 * male + 0.3 * (age_entry - 55) + rng.normal(0, 14.0, size=n)
    bmi_sd = (bmi - COVARIATE_SCALING["bmi"][0]) / COVARIATE_SCALING["bmi"][1]
    sbp_sd = (sbp - COVARIATE_SCALING["sbp"][0]) / COVARIATE_SCALING["sbp"][1]

    truth = pd.DataFrame({C.IID: iid})
    onset_age = {}
    for d in diseases:
        x = {
            "prs_sd": people[f"prs_z_{d.score}"].to_numpy(),
            "male": male.astype(float),
            "bmi_sd": bmi_sd,
            "current_smoker": current.astype(float),
            "sbp_sd": sbp_sd,
            "omics_sd": omics_u[d.name],
        }
        onset_age[d.name] = onset_ages(d, x, rng.exponential(size=n))
        truth[f"omics_u_{d.name}"] = omics_u[d.name]
        truth[f"onset_age_{d.name}"] = onset_age[d.name]
        rate, shape = hazard_parameters(d, x)
        truth[f"hazard_rate_{d.name}"], truth[f"hazard_shape_{d.name}"] = rate, shape

    eta_death = DEATH["log_hr"]["male"] * male + DEATH["log_hr"]["current_smoker"] * current
    death_age = gompertz_age(
        DEATH["baseline_rate"] * np.exp(eta_death),
        DEATH["baseline_shape"],
        rng.exponential(size=n),
        alive_at=age_entry,
    )
    truth["death_age"] = death_age

    admin = np.datetime64(admin_end)
    end = np.full(n, admin)
    lost = rng.random(n) < loss_to_followup
    span = (admin - entry).astype(int)
    end[lost] = entry[lost] + (rng.random(int(lost.sum())) * span[lost]).astype(int).astype(
        "timedelta64[D]"
    )
    death_date = birth + np.round(death_age * DAYS_PER_YEAR).astype(int).astype("timedelta64[D]")
    died = death_date <= end
    end = np.where(died, death_date, end)

    clinical = pd.DataFrame(
        {
            C.IID: iid,
            C.SEX: np.where(people["reported_male"].to_numpy(bool), "male", "female"),
            C.BIRTH_DATE: birth.astype(str),
            C.ENTRY_DATE: entry.astype(str),
            C.END_OF_FOLLOWUP: end.astype(str),
            C.DEATH_DATE: np.where(died, death_date.astype(str), ""),
            C.BMI: np.round(bmi, 1),
            C.SMOKING: smoking,
            C.SBP: np.round(sbp).astype(float),
        }
    )
    clinical.loc[rng.random(n) < 0.02, C.BMI] = np.nan
    clinical.loc[rng.random(n) < 0.03, C.SBP] = np.nan

    onset_dates = {
        d.name: birth
        + np.round(np.minimum(onset_age[d.name], 200) * DAYS_PER_YEAR)
        .astype(int)
        .astype("timedelta64[D]")
        for d in DISEASES
    }
    diagnoses = _diagnoses(rng, iid, birth, end, onset_dates)
    omics, n_post = _omics(rng, iid, birth, entry, end, omics_u, onset_dates)

    d = SEX_SPECIFIC
    eta = d.log_hr["prs_sd"] * people[f"prs_z_{d.score}"].to_numpy()
    eta = eta + d.log_hr["current_smoker"] * current
    onset = gompertz_age(d.baseline_rate * np.exp(eta), d.baseline_shape, rng.exponential(size=n))
    onset[~male] = np.inf  # genetic sex
    truth[f"onset_age_{d.name}"] = onset
    truth[f"hazard_rate_{d.name}"] = np.where(male, d.baseline_rate * np.exp(eta), 0.0)
    truth[f"hazard_shape_{d.name}"] = d.baseline_shape
    pca_date = birth + np.round(np.minimum(onset, 200) * DAYS_PER_YEAR).astype(int).astype(
        "timedelta64[D]"
    )
    seen = np.flatnonzero(pca_date <= end)
    cancer = pd.DataFrame(
        {
            C.IID: iid[seen],
            C.DIAGNOSIS_DATE: pca_date[seen].astype(str),
            C.ICD10: d.icd10[0],
            C.RECORD_SOURCE: "cancer",
        }
    )
    diagnoses = (
        pd.concat([diagnoses, cancer], ignore_index=True)
        .sort_values([C.IID, C.DIAGNOSIS_DATE, C.ICD10], kind="stable")
        .reset_index(drop=True)
    )
    medications = _metformin(rng, iid, end, onset_dates["T2D"])

    model_truth = {
        "time_scale": "age",
        "diseases": {d.name: asdict(d) for d in diseases},
        "prs_age_centre": PRS_AGE_CENTRE,
        "death": DEATH,
        "covariate_scaling": {
            k: {"centre": c, "scale": s} for k, (c, s) in COVARIATE_SCALING.items()
        },
        "prs_scaling": "true genetic score standardised to mean 0, SD 1 within this cohort",
        "omics": {"analytes": list(ANALYTES), "post_onset_measurements": n_post},
        "counts": {
            "persons": n,
            "deaths_in_followup": int(died.sum()),
            "lost_to_followup": int((lost & ~died).sum()),
            **{
                f"{d.name}_onset_before_entry": int((onset_dates[d.name] < entry).sum())
                for d in DISEASES
            },
            **{
                f"{d.name}_incident_in_followup": int(
                    ((onset_dates[d.name] >= entry) & (onset_dates[d.name] <= end)).sum()
                )
                for d in DISEASES
            },
        },
    }
    model_truth["sex_specific"] = {
        "disease": asdict(SEX_SPECIFIC),
        "sex": SEX_SPECIFIC_SEX,
        f"{d.name}_incident_in_followup": int(((pca_date >= entry) & (pca_date <= end)).sum()),
    }
    model_truth["medications"] = {"T2D": METFORMIN, "purchases": len(medications)}
    return clinical, diagnoses, omics, truth, model_truth, medications


def _metformin(
    rng: np.random.Generator, iid: np.ndarray, end: np.ndarray, t2d_onset: np.ndarray
) -> pd.DataFrame:
    """Two purchases per T2D case: 30-400 days after onset and a year later (if under follow-up)."""
    first = t2d_onset + rng.integers(30, 401, size=len(iid)).astype("timedelta64[D]")
    second = first + np.timedelta64(365, "D")
    who, when = [], []
    for date in (first, second):
        ok = np.flatnonzero(date <= end)
        who.append(iid[ok])
        when.append(date[ok].astype(str))
    out = pd.DataFrame({C.IID: np.concatenate(who), "date": np.concatenate(when), C.ATC: METFORMIN})
    return out.sort_values([C.IID, "date"], kind="stable").reset_index(drop=True)


def _diagnoses(
    rng: np.random.Generator,
    iid: np.ndarray,
    birth: np.ndarray,
    end: np.ndarray,
    onset_dates: dict[str, np.ndarray],
) -> pd.DataFrame:
    frames = []
    for d in DISEASES:
        onset = onset_dates[d.name]
        seen = onset <= end
        idx = np.flatnonzero(seen)
        code = np.array(d.icd10)[rng.integers(0, len(d.icd10), size=len(idx))]
        frames.append(
            pd.DataFrame(
                {
                    C.IID: iid[idx],
                    C.DIAGNOSIS_DATE: onset[idx].astype(str),
                    C.ICD10: code,
                    C.RECORD_SOURCE: "inpatient",
                }
            )
        )
        # Follow-up contacts after onset repeat the diagnosis.
        repeat = idx[rng.random(len(idx)) < 0.5]
        gap = (end[repeat] - onset[repeat]).astype(int)
        later = onset[repeat] + (rng.random(len(repeat)) * gap).astype(int).astype("timedelta64[D]")
        frames.append(
            pd.DataFrame(
                {
                    C.IID: iid[repeat],
                    C.DIAGNOSIS_DATE: later.astype(str),
                    C.ICD10: d.icd10[-1],
                    C.RECORD_SOURCE: "outpatient",
                }
            )
        )
    n_bg = rng.poisson(1.5, size=len(iid))
    who = np.repeat(np.arange(len(iid)), n_bg)
    lo = birth[who] + np.timedelta64(int(18 * DAYS_PER_YEAR), "D")
    span = np.maximum((end[who] - lo).astype(int), 1)
    when = lo + (rng.random(len(who)) * span).astype(int).astype("timedelta64[D]")
    frames.append(
        pd.DataFrame(
            {
                C.IID: iid[who],
                C.DIAGNOSIS_DATE: when.astype(str),
                C.ICD10: rng.choice(BACKGROUND_CODES, size=len(who)),
                C.RECORD_SOURCE: "outpatient",
            }
        )
    )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values([C.IID, C.DIAGNOSIS_DATE, C.ICD10], kind="stable").reset_index(drop=True)


def _omics(
    rng: np.random.Generator,
    iid: np.ndarray,
    birth: np.ndarray,
    entry: np.ndarray,
    end: np.ndarray,
    omics_u: dict[str, np.ndarray],
    onset_dates: dict[str, np.ndarray],
) -> tuple[pd.DataFrame, int]:
    """Long-format omics: 1-5 visits per person (first at entry), plus one planted post-onset visit per incident case."""
    n = len(iid)
    n_visits = rng.integers(1, 6, size=n)
    who = np.repeat(np.arange(n), n_visits)
    first = np.r_[0, np.cumsum(n_visits)[:-1]]
    lo = entry[who] - np.timedelta64(int(5 * DAYS_PER_YEAR), "D")
    span = np.maximum((end[who] - lo).astype(int), 1)
    when = lo + (rng.random(len(who)) * span).astype(int).astype("timedelta64[D]")
    when[first] = entry
    post_who, post_when = [], []
    for d in DISEASES:
        onset = onset_dates[d.name]
        incident = np.flatnonzero((onset >= entry) & (onset < end))
        gap = (end[incident] - onset[incident]).astype(int)
        post_who.append(incident)
        post_when.append(
            onset[incident]
            + (1 + rng.random(len(incident)) * np.maximum(gap - 1, 0))
            .astype(int)
            .astype("timedelta64[D]")
        )
    who = np.concatenate([who, *post_who])
    when = np.concatenate([when, *post_when])
    age = (when - birth[who]).astype(float) / DAYS_PER_YEAR

    mean = rng.uniform(1.0, 10.0, size=N_ANALYTES)
    slope = rng.normal(0.0, 0.15, size=N_ANALYTES)
    person_effect = rng.normal(0.0, 0.3, size=(n, N_ANALYTES))
    values = mean + slope * (age[:, None] - 55.0) / 10.0 + person_effect[who]
    post_onset = 0
    for d in DISEASES:
        for k, a in enumerate(d.omics_markers):
            j = ANALYTES.index(a)
            values[:, j] += (0.8 - 0.15 * k) * omics_u[d.name][who]
        j = ANALYTES.index(d.post_onset_marker)
        after = when > onset_dates[d.name][who]
        values[after, j] += d.post_onset_shift
        post_onset += int(after.sum())
    values += rng.normal(0.0, 0.4, size=values.shape)
    out = pd.DataFrame(
        {
            C.IID: np.repeat(iid[who], N_ANALYTES),
            C.SAMPLE_DATE: np.repeat(when.astype(str), N_ANALYTES),
            C.ANALYTE: np.tile(ANALYTES, len(who)),
            C.VALUE: np.round(values.ravel(), 4),
        }
    )
    out = out.sort_values([C.IID, C.SAMPLE_DATE, C.ANALYTE], kind="stable").reset_index(drop=True)
    return out, post_onset
