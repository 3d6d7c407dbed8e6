"""The clinician export of one endpoint: its table built from the stage outputs (written by
``igs.export.clinician.write_clinician_export``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import numpy as np
import pandas as pd

from igs.export.clinician import clinician_table
from igs.export.options import ExportOptions
from igs.io.tables import read_tsv
from igs.models.cox import CoxModel
from igs.models.dataset import SurvivalData
from igs.models.load import SurvivalFiles, load_survival_data
from igs.models.recalibration import PersonRisks

PathLike = str | os.PathLike[str]
log = logging.getLogger("igs")


def export_table(
    endpoint: str,
    model_file: PathLike,
    files: SurvivalFiles,
    match_summary: PathLike,
    opts: ExportOptions,
) -> tuple[pd.DataFrame, CoxModel, str]:
    """One row per person of ``endpoint`` (everyone scored, flagged), its model and pgs_id."""
    model = CoxModel.from_json(model_file)
    data = load_survival_data(files, endpoint, opts.models, only_included=False)
    pgs_id = opts.models.score_of(endpoint)
    ep_table = pd.read_parquet(files.endpoint_table).set_index("IID")
    match = read_tsv(match_summary).set_index("pgs_id")
    scores = read_tsv(files.scores, dtypes={"IID": "string"})
    validated = evaluation_populations(model_file, opts.min_cell)
    if "most_similar_population" in scores and not validated:
        log.warning("%s: no reference population has %d events in the evaluation's fairness.tsv; "
                    "everyone is flagged population_not_validated", model_file, opts.min_cell)  # fmt: skip
    table = clinician_table(
        data, ep_table.loc[data.iid, "excluded"].to_numpy(), scores,
        model, model_file, pgs_id=pgs_id, match_rate=float(match.loc[pgs_id, "match_rate"]),
        horizon=opts.horizon, thresholds=opts.thresholds, labels=opts.labels,
        min_match_rate=opts.min_match_rate, normalisation=normalisation(opts, scores),
        recalibrated=recalibrated_risks(model, model_file, opts), validated=validated,
        min_population_probability=opts.min_population_probability,
    )  # fmt: skip
    return table, model, pgs_id


def normalisation(opts: ExportOptions, scores: pd.DataFrame) -> str:
    """How the exported Z-scores were normalised: on the reference panel when the scores were
    compared with one (they carry ``most_similar_population``), else in the biobank."""
    where = ("the shared reference panel's samples" if "most_similar_population" in scores
             else "this biobank's QC'd samples")  # fmt: skip
    return f"pgsc_calc mean+variance (Z_norm2) on {opts.models.n_pcs} PCs, fitted in {where}"


def evaluation_populations(model_file: PathLike, min_cell: int) -> tuple[str, ...]:
    """The reference populations validated in the evaluation folder holding ``model_file``
    (:func:`igs.export.clinician.validated_populations` of its fairness.tsv; none without it)."""
    from pathlib import Path

    from igs.export.clinician import validated_populations

    fair = Path(model_file).parent / "fairness.tsv"
    return validated_populations(read_tsv(fair), min_cell) if fair.is_file() else ()


def recalibrated_risks(
    model: CoxModel, model_file: PathLike, opts: ExportOptions
) -> Callable[[SurvivalData, np.ndarray], PersonRisks] | None:
    """The recalibrated risks of an export (``igs.models.recalibration.person_risks`` with the
    score effects of the evaluation folder holding ``model_file``), or None without a country
    or off the age time scale (the start of follow-up is then not an age)."""
    from pathlib import Path

    from igs.models.recalibration import evaluation_effects, person_risks, populations_of

    if opts.recalibration_table is None:
        return None
    if model.time_scale != "age":
        log.warning("recalibrated risks need the age time scale; %s is on %s", model_file,
                    model.time_scale)  # fmt: skip
        return None
    pops = populations_of(opts.recalibration_table, [str(opts.country)])
    effects = evaluation_effects(Path(model_file).parent)

    def risks(data: SurvivalData, prs_z: np.ndarray) -> PersonRisks:
        sex = np.where(data.features["sex_male"].to_numpy(float) == 1, "male", "female")
        return person_risks(pops, effects, str(opts.country), sex, prs_z, data.start, opts.horizon,
                            n_draws=opts.models.n_draws, seed=opts.models.settings.seed)  # fmt: skip

    return risks


def export_model_card(
    endpoint: str,
    pgs_id: str,
    model: CoxModel,
    model_file: PathLike,
    match_summary: PathLike,
    scoring_files: tuple[PathLike, ...],
    opts: ExportOptions,
    out: PathLike,
    ancestry_adjustment: str = "",
) -> None:
    """Write the PRS-RS model card (``igs.export.model_card``) of one endpoint's export; the
    header of the scoring file whose pgs_id is ``pgs_id`` (if given) fills its development part;
    ``ancestry_adjustment``: the export's normalisation (default: fitted in the biobank)."""
    from pathlib import Path

    from igs.export.model_card import model_card, write_model_card
    from igs.scores.scorefile import read_scoring_file

    header: dict[str, str] = {}
    for f in scoring_files:
        sf = read_scoring_file(f)
        if sf.pgs_id == pgs_id:
            header = dict(sf.header)
            break
    match = read_tsv(match_summary).set_index("pgs_id").loc[pgs_id].to_dict()
    times = model.baseline_times or [float("nan")]
    card = model_card(
        endpoint, pgs_id, header, match, Path(model_file).parent, model_set=model.model_set,
        time_scale=model.time_scale, modelled_ages=(min(times), max(times)), horizon=opts.horizon,
        ancestry_adjustment=ancestry_adjustment or normalisation(opts, pd.DataFrame()),
        validated_populations=evaluation_populations(model_file, opts.min_cell),
        min_cell=opts.min_cell, min_population_probability=opts.min_population_probability,
    )  # fmt: skip
    write_model_card(card, out)
