"""The simulated cohort has the structure it claims, checked with plink2/plink1.9 as oracles."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from igs import columns as C
from igs.io import plink
from igs.simulate import CohortSpec, build_universe, simulate_cohort, write_scoring_files
from igs.simulate.cohort import COHORT_FILES
from igs.simulate.universe import UniverseSpec, is_ambiguous
from tests.conftest import SMALL_COHORT, SMALL_UNIVERSE, require_tool, run_tool


def digest(folder, names):
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


def test_same_seed_gives_identical_bytes(tmp_path, small_cohort, small_universe):
    again = tmp_path / "again"
    simulate_cohort(build_universe(SMALL_UNIVERSE), SMALL_COHORT, again, chunk_variants=700)
    assert digest(again, COHORT_FILES) == digest(small_cohort, COHORT_FILES)


def test_chunk_size_does_not_change_genotypes(tmp_path, small_cohort, small_universe):
    other = tmp_path / "other"
    simulate_cohort(small_universe, SMALL_COHORT, other, chunk_variants=700)
    assert digest(other, ["genotypes.bed"]) == digest(small_cohort, ["genotypes.bed"])


def test_other_cohort_seed_gives_other_people(tmp_path, small_universe, small_cohort):
    spec = CohortSpec(name="small", n_samples=600, seed=4, ancestry_proportions=(0.7, 0.2, 0.1))
    simulate_cohort(small_universe, spec, tmp_path / "b")
    assert digest(tmp_path / "b", ["genotypes.bed"]) != digest(small_cohort, ["genotypes.bed"])
    # same universe: same variant table apart from array-missing variants
    a = plink.read_bim(small_cohort / "genotypes.bim")
    b = plink.read_bim(tmp_path / "b" / "genotypes.bim")
    shared = a.merge(b, on=["chrom", "pos"], suffixes=("_a", "_b"))
    assert len(shared) > 0.97 * len(a)
    assert (shared["a1_a"] == shared["a1_b"]).all() and (shared["id_a"] == shared["id_b"]).all()


def test_too_small_cohort_is_rejected(small_universe, tmp_path):
    with pytest.raises(ValueError, match="n_samples=20 is too small"):
        simulate_cohort(small_universe, CohortSpec(name="x", n_samples=20), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_bed_and_pgen_agree_in_plink2(small_cohort, tmp_path):
    plink2 = require_tool("plink2")
    prefix = str(small_cohort / "genotypes")
    run_tool(
        [plink2, "--bfile", prefix, "--freq", "--missing", "--out", str(tmp_path / "b")], tmp_path
    )
    run_tool(
        [plink2, "--pfile", prefix, "--freq", "--missing", "--out", str(tmp_path / "p")], tmp_path
    )
    for suffix in ("afreq", "vmiss", "smiss"):
        b = pd.read_csv(tmp_path / f"b.{suffix}", sep="\t")
        p = pd.read_csv(tmp_path / f"p.{suffix}", sep="\t")
        pd.testing.assert_frame_equal(b, p)


def plink2_table(args, tmp_path, name, suffix):
    plink2 = require_tool("plink2")
    run_tool([plink2, *args, "--out", str(tmp_path / name)], tmp_path)
    return pd.read_csv(tmp_path / f"{name}.{suffix}", sep=r"\s+")


def test_low_callrate_samples_are_exactly_the_planted_ones(small_cohort, small_truth, tmp_path):
    smiss = plink2_table(
        ["--bfile", str(small_cohort / "genotypes"), "--missing"], tmp_path, "m", "smiss"
    )
    low = set(smiss.loc[smiss["F_MISS"] > 0.02, "IID"])
    assert low == set(small_truth["planted"]["low_callrate_samples"])


def test_low_callrate_variants_are_exactly_the_planted_ones(small_cohort, small_truth, tmp_path):
    vmiss = plink2_table(
        ["--bfile", str(small_cohort / "genotypes"), "--missing"], tmp_path, "m", "vmiss"
    )
    low = set(vmiss.loc[vmiss["F_MISS"] > 0.02, "ID"])
    assert low == set(small_truth["planted"]["low_callrate_variants"])


def test_heterozygosity_extremes_are_the_planted_outliers(small_cohort, small_truth, tmp_path):
    het = plink2_table(
        ["--bfile", str(small_cohort / "genotypes"), "--autosome", "--het"], tmp_path, "h", "het"
    )
    high, low = (
        small_truth["planted"]["heterozygosity_high"],
        small_truth["planted"]["heterozygosity_low"],
    )
    ranked = het.sort_values("F")["IID"].tolist()
    assert set(ranked[: len(high)]) == set(high)
    assert set(ranked[-len(low) :]) == set(low)


def test_related_pairs_found_by_king_are_the_planted_ones(small_cohort, small_truth, tmp_path):
    planted = small_truth["planted"]
    drop = tmp_path / "drop.txt"
    outliers = planted["heterozygosity_high"] + planted["heterozygosity_low"]
    drop.write_text("".join(f"{i}\t{i}\n" for i in outliers))
    kin = plink2_table(
        [
            "--bfile",
            str(small_cohort / "genotypes"),
            "--autosome",
            "--remove",
            str(drop),
            "--make-king-table",
            "--king-table-filter",
            "0.0884",
        ],
        tmp_path,
        "k",
        "kin0",
    )
    found = {frozenset(p) for p in zip(kin["IID1"], kin["IID2"], strict=True)}
    assert found == {frozenset(p) for p in planted["related_pairs"]}
    assert kin["KINSHIP"].between(0.177, 0.354).all()  # first degree


def samples_by_population(cohort) -> dict[str, list[str]]:
    truth = pd.read_csv(cohort / "truth_samples.tsv.gz", sep="\t")
    return truth.groupby("population")[C.IID].apply(list).to_dict()


def test_sex_mismatches_found_by_plink19_are_the_planted_ones(small_cohort, small_truth, tmp_path):
    # Checked within each ancestry group: pooled allele frequencies would inflate F (Wahlund effect).
    plink19 = require_tool("plink1.9")
    planted = small_truth["planted"]
    outliers = set(planted["heterozygosity_low"] + planted["heterozygosity_high"])
    problems = set()
    for pop, iids in samples_by_population(small_cohort).items():
        keep = tmp_path / f"{pop}.txt"
        keep.write_text("".join(f"{i}\t{i}\n" for i in iids if i not in outliers))
        run_tool(
            [
                plink19,
                "--bfile",
                str(small_cohort / "genotypes"),
                "--keep",
                str(keep),
                "--check-sex",
                "--out",
                str(tmp_path / pop),
            ],
            tmp_path,
        )
        sexcheck = pd.read_csv(tmp_path / f"{pop}.sexcheck", sep=r"\s+")
        problems |= set(sexcheck.loc[sexcheck["STATUS"] == "PROBLEM", "IID"])
    assert problems == set(planted["sex_mismatch"])


def test_hwe_failures_are_planted(small_cohort, small_truth, tmp_path):
    # Tested in the largest ancestry group, as QC does: the pooled sample is not in HWE (Wahlund effect).
    keep = tmp_path / "pop_a.txt"
    keep.write_text("".join(f"{i}\t{i}\n" for i in samples_by_population(small_cohort)["POP_A"]))
    hardy = plink2_table(
        [
            "--bfile",
            str(small_cohort / "genotypes"),
            "--keep",
            str(keep),
            "--autosome",
            "--hardy",
            "midp",
        ],
        tmp_path,
        "w",
        "hardy",
    )
    failing = set(hardy.loc[hardy["MIDP"] < 1e-6, "ID"])
    planted = set(small_truth["planted"]["hwe_fail_variants"])
    assert failing <= planted
    assert failing  # rare planted variants cannot reach p < 1e-6, common ones do


def test_ancestry_groups_differ_in_allele_frequency(small_cohort):
    truth = pd.read_csv(small_cohort / "truth_samples.tsv.gz", sep="\t")
    gset = plink.open_genotypes(small_cohort / "genotypes")
    g = np.concatenate([c for *_, c in plink.iter_genotype_chunks(gset)], axis=1)
    auto = (gset.variants["chrom"] != "X").to_numpy()
    freqs = {
        p: np.nanmean(g[(truth["population"] == p).to_numpy()][:, auto], axis=0) / 2
        for p in ["POP_A", "POP_C"]
    }
    p_bar = (freqs["POP_A"] + freqs["POP_C"]) / 2
    fst = np.mean((freqs["POP_A"] - freqs["POP_C"]) ** 2) / np.mean(p_bar * (1 - p_bar))
    assert fst > 0.05


def test_ld_is_stronger_within_blocks(small_cohort, small_universe):
    gset = plink.open_genotypes(small_cohort / "genotypes")
    g = next(plink.iter_genotype_chunks(gset, chunk_variants=1500))[2]
    v = small_universe.variants.set_index("id").loc[gset.variants["id"].iloc[:1500]]
    g = np.where(np.isnan(g), np.nanmean(g, axis=0), g)
    z = (g - g.mean(axis=0)) / np.where(g.std(axis=0) > 0, g.std(axis=0), np.nan)
    r2 = np.mean(z[:, 1:] * z[:, :-1], axis=0) ** 2  # NaN for monomorphic variants
    same_block = v["block"].to_numpy()[1:] == v["block"].to_numpy()[:-1]
    assert np.nanmean(r2[same_block]) > 0.1
    assert np.nanmean(r2[~same_block]) < 0.2 * np.nanmean(r2[same_block])


def read_scoring_file(path):
    with gzip.open(path, "rt") as fh:
        header = {}
        for line in fh:
            if not line.startswith("#"):
                break
            if "=" in line:
                k, v = line.lstrip("#").rstrip("\n").split("=", 1)
                header[k] = v
    return header, pd.read_csv(path, sep="\t", comment="#")


def test_scoring_files_follow_pgs_catalog_format(small_scoring_files, small_universe):
    for s in small_universe.spec.scores:
        header, rows = read_scoring_file(small_scoring_files / f"{s.pgs_id}.txt.gz")
        assert header["format_version"] == "2.0"
        assert header["pgs_id"] == s.pgs_id
        assert header["genome_build"] == "GRCh38"
        assert int(header["variants_number"]) == len(rows)
        assert list(rows.columns) == list(C.SCORING_FILE_COLUMNS)


def test_scoring_file_rows_match_their_planted_status(small_scoring_files, small_universe):
    _, rows = read_scoring_file(small_scoring_files / "IGS_SIM_CAD.txt.gz")
    truth = pd.read_csv(small_scoring_files / "IGS_SIM_CAD.truth.tsv.gz", sep="\t")
    assert (rows[C.RSID] == truth[C.RSID]).all()
    counts = truth["status"].value_counts()
    for status in ("exact", "swapped", "flipped", "flipped_swapped", "ambiguous", "absent"):
        assert counts.get(status, 0) > 0, status
    u = small_universe.variants.set_index(["chrom", "pos"])
    rows = rows.assign(
        status=truth["status"], true=truth["true_weight_a1"], chrom=rows[C.CHR_NAME].astype(str)
    )
    present = rows[rows["status"] != "absent"]
    target = u.loc[list(zip(present["chrom"], present[C.CHR_POSITION], strict=True))]
    a1 = target["a1"].to_numpy()
    comp = str.maketrans("ACGT", "TGCA")
    ea = present[C.EFFECT_ALLELE].to_numpy()
    st = present["status"].to_numpy()
    assert (ea[st == "exact"] == a1[st == "exact"]).all()
    assert (ea[st == "swapped"] == target["a2"].to_numpy()[st == "swapped"]).all()
    flipped = st == "flipped"
    assert all(e.translate(comp) == a for e, a in zip(ea[flipped], a1[flipped], strict=True))
    amb = [
        is_ambiguous(x, y)
        for x, y in zip(present[C.EFFECT_ALLELE], present[C.OTHER_ALLELE], strict=True)
    ]
    assert (np.array(amb) == (st == "ambiguous")).all()
    # weights are noisy estimates of the true a1 effect, sign-flipped when the other allele is reported
    sign = np.where(np.isin(st, ["swapped", "flipped_swapped"]), -1.0, 1.0)
    sign[st == "ambiguous"] = np.where(ea[st == "ambiguous"] == a1[st == "ambiguous"], 1.0, -1.0)
    r = np.corrcoef(sign * present[C.EFFECT_WEIGHT], present["true"])[0, 1]
    assert r > 0.9
    absent = rows[rows["status"] == "absent"]
    assert not any(
        (c, p) in u.index for c, p in zip(absent["chrom"], absent[C.CHR_POSITION], strict=True)
    )


def test_scoring_files_are_deterministic(tmp_path, small_scoring_files):
    write_scoring_files(build_universe(SMALL_UNIVERSE), tmp_path)
    names = [p.name for p in small_scoring_files.iterdir()]
    assert digest(tmp_path, names) == digest(small_scoring_files, names)


def test_clinical_table_is_consistent(small_cohort):
    clin = pd.read_csv(
        small_cohort / "clinical.tsv", sep="\t", keep_default_na=False, na_values=[""]
    )
    assert list(clin.columns) == list(C.CLINICAL_COLUMNS)
    assert clin[C.IID].is_unique
    dates = {c: pd.to_datetime(clin[c]) for c in (C.BIRTH_DATE, C.ENTRY_DATE, C.END_OF_FOLLOWUP)}
    age_entry = (dates[C.ENTRY_DATE] - dates[C.BIRTH_DATE]).dt.days / 365.25
    assert age_entry.between(39.9, 70.1).all()
    assert (dates[C.END_OF_FOLLOWUP] >= dates[C.ENTRY_DATE]).all()
    assert (dates[C.END_OF_FOLLOWUP] <= pd.Timestamp("2023-12-31")).all()
    died = clin[C.DEATH_DATE].notna()
    assert (pd.to_datetime(clin.loc[died, C.DEATH_DATE]) == dates[C.END_OF_FOLLOWUP][died]).all()
    assert 0.05 < died.mean() < 0.4
    assert set(clin[C.SMOKING]) == {"never", "former", "current"}
    assert 0 < clin[C.BMI].isna().mean() < 0.06


def test_sex_in_fam_and_clinical_table_is_the_reported_sex(small_cohort, small_truth):
    fam = plink.read_fam(small_cohort / "genotypes.fam")
    clin = pd.read_csv(small_cohort / "clinical.tsv", sep="\t")
    truth = pd.read_csv(small_cohort / "truth_samples.tsv.gz", sep="\t")
    assert (np.where(fam["sex"] == 1, "male", "female") == clin[C.SEX]).all()
    mismatch = truth.loc[truth["reported_sex"] != truth["genetic_sex"], C.IID]
    assert set(mismatch) == set(small_truth["planted"]["sex_mismatch"])


def test_incident_cases_have_higher_true_prs(small_cohort):
    clin = pd.read_csv(small_cohort / "clinical.tsv", sep="\t")
    dx = pd.read_csv(small_cohort / "diagnoses.tsv", sep="\t")
    truth = pd.read_csv(small_cohort / "truth_samples.tsv.gz", sep="\t").set_index(C.IID)
    cad = dx[dx[C.ICD10].str.startswith(("I21", "I25"))].groupby(C.IID)[C.DIAGNOSIS_DATE].min()
    assert (cad.index.isin(clin[C.IID])).all()
    cases = truth.loc[cad.index]
    controls = truth.drop(cad.index)

    def z_stat(col: str) -> float:
        se = np.sqrt(cases[col].var() / len(cases) + controls[col].var() / len(controls))
        return (cases[col].mean() - controls[col].mean()) / se

    assert z_stat("prs_z_IGS_SIM_CAD") > 2  # 600 people, ~80 cases; larger cohorts give z > 6
    # the LDL score has no effect on any endpoint (only ancestry can move it a little)
    assert abs(z_stat("prs_z_IGS_SIM_LDL")) < 3


def test_omics_has_visits_after_onset_that_would_leak(small_cohort, small_truth):
    om = pd.read_csv(small_cohort / "omics.tsv.gz", sep="\t")
    assert list(om.columns) == list(C.OMICS_COLUMNS)
    assert om[C.ANALYTE].nunique() == 20
    visits = om.groupby(C.IID)[C.SAMPLE_DATE].nunique()
    assert visits.min() >= 1 and visits.max() >= 5
    assert small_truth["model"]["omics"]["post_onset_measurements"] > 0
    truth = pd.read_csv(small_cohort / "truth_samples.tsv.gz", sep="\t")
    clin = pd.read_csv(small_cohort / "clinical.tsv", sep="\t")
    onset = pd.to_datetime(clin[C.BIRTH_DATE]) + pd.to_timedelta(
        truth["onset_age_CAD"].clip(upper=150) * 365.25, unit="D"
    )
    om = om.merge(pd.DataFrame({C.IID: clin[C.IID], "onset": onset}), on=C.IID)
    marker = om[om[C.ANALYTE] == "OM01"]
    after = pd.to_datetime(marker[C.SAMPLE_DATE]) > marker["onset"]
    assert after.sum() > 0
    assert marker.loc[after, C.VALUE].mean() - marker.loc[~after, C.VALUE].mean() > 1.5


def test_truth_records_model_effects(small_truth):
    cad = small_truth["model"]["diseases"]["CAD"]
    assert cad["log_hr"]["prs_sd"] > 0 and cad["score"] == "IGS_SIM_CAD"
    assert small_truth["universe"]["seed"] == SMALL_UNIVERSE.seed
    json.dumps(small_truth)  # serialisable as written


def test_universe_is_deterministic_and_has_chrx():
    a = build_universe(UniverseSpec(seed=5, n_variants=1000, chromosomes=("1",)))
    b = build_universe(UniverseSpec(seed=5, n_variants=1000, chromosomes=("1",)))
    pd.testing.assert_frame_equal(a.variants, b.variants)
    x = a.variants[a.variants["chrom"] == "X"]
    assert len(x) == 50 and x["pos"].between(3_000_000, 155_000_000).all()
