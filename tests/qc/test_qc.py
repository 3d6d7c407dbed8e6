"""Local QC engine: statistics against plink2/plink1.9, planted problems found, bad input rejected."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from igs.errors import InputFormatError
from igs.io import plink
from igs.qc import QCOptions, run_local_qc
from igs.qc.relatedness import samples_to_remove
from tests.conftest import QC_OPTS as OPTS
from tests.conftest import require_tool, run_igs, run_tool


@pytest.fixture(scope="session")
def population(small_cohort) -> pd.Series:
    truth = pd.read_csv(small_cohort / "truth_samples.tsv.gz", sep="\t")
    return truth.set_index("IID")["population"]


def keep_file(tmp_path, iids, name="keep.txt"):
    path = tmp_path / name
    path.write_text("".join(f"{i}\t{i}\n" for i in iids))
    return str(path)


def extract_file(tmp_path, ids, name="extract.txt"):
    path = tmp_path / name
    path.write_text("".join(f"{i}\n" for i in ids))
    return str(path)


def plink_out(tool, args, tmp_path, name, suffix):
    run_tool([require_tool(tool), *args, "--out", str(tmp_path / name)], tmp_path)
    return pd.read_csv(tmp_path / f"{name}.{suffix}", sep=r"\s+")


# --------------------------------------------------------------------------- oracle: plink


def test_call_rate_and_frequency_equal_plink2(qc_run, small_cohort, tmp_path):
    result, _ = qc_run
    final = result.samples.loc[result.samples["qc_fail"] == "", "IID"]
    bfile = str(small_cohort / "genotypes")
    keep = keep_file(tmp_path, final)
    vmiss = plink_out(
        "plink2", ["--bfile", bfile, "--keep", keep, "--missing"], tmp_path, "m", "vmiss"
    )
    afreq = plink_out(
        "plink2", ["--bfile", bfile, "--keep", keep, "--freq"], tmp_path, "f", "afreq"
    )
    v = result.variants.set_index("id")
    np.testing.assert_allclose(v.loc[vmiss["ID"], "call_rate"], 1 - vmiss["F_MISS"], atol=1e-6)
    # plink2 treats males as haploid on chrX, and so does igs
    assert (v.loc[afreq["ID"], "chrom"] == "X").sum() > 100
    np.testing.assert_allclose(v.loc[afreq["ID"], "a1_freq"], afreq["ALT_FREQS"], atol=1e-6)


def test_hwe_midp_equals_plink2_in_largest_group(qc_run, small_cohort, tmp_path):
    result, _ = qc_run
    s = result.samples
    largest = s[(s["qc_fail"] == "") & (s["ancestry_group"] == 0)]
    bfile = str(small_cohort / "genotypes")
    hardy = plink_out(
        "plink2",
        ["--bfile", bfile, "--keep", keep_file(tmp_path, largest["IID"]), "--hardy", "midp"],
        tmp_path,
        "h",
        "hardy",
    )
    # chrX is tested in females only (plink2's chrX test would also use males)
    females = largest.loc[largest["reported_sex"] == 2, "IID"]
    args = ["--bfile", bfile, "--keep", keep_file(tmp_path, females, "f.txt"), "--chr", "X"]
    hardy_x = plink_out("plink2", [*args, "--hardy", "midp"], tmp_path, "hx", "hardy.x")
    v = result.variants.set_index("id")
    assert len(hardy_x) > 100
    for table in (hardy, hardy_x):
        ours = v.loc[table["ID"], "hwe_p"].to_numpy()
        np.testing.assert_allclose(ours, table["MIDP"], rtol=1e-5, atol=1e-12)
    assert (v["qc_fail"] == "hwe").sum() > 0


def test_hwe_exact_test_without_midp_equals_plink2(small_cohort, tmp_path):
    from igs.qc import kernels

    gset = plink.open_genotypes(small_cohort / "genotypes")
    auto = np.flatnonzero(gset.variants["chrom"] != "X")
    g = plink.read_genotype_codes(gset, auto)
    counts = kernels.variant_genotype_counts(g, np.zeros(gset.n_samples, np.int64), 1)[:, 0, :3]
    ours = kernels.hwe_pvalues(np.ascontiguousarray(counts), False)
    hardy = plink_out(
        "plink2", ["--bfile", str(small_cohort / "genotypes"), "--hardy"], tmp_path, "h", "hardy"
    )
    np.testing.assert_allclose(ours, hardy["P"], rtol=1e-5, atol=1e-12)


def test_heterozygosity_f_equals_plink2(qc_run, small_cohort, tmp_path):
    result, _ = qc_run
    s, v = result.samples, result.variants
    tested = s.loc[s["qc_fail"] != "call_rate", "IID"]
    used = v.loc[v["used_for_sample_qc"] & (v["chrom"] != "X"), "id"]
    args = ["--bfile", str(small_cohort / "genotypes"), "--keep", keep_file(tmp_path, tested)]
    het = plink_out(
        "plink2", [*args, "--extract", extract_file(tmp_path, used), "--het"], tmp_path, "h", "het"
    )
    ours = s.set_index("IID").loc[het["IID"]]
    np.testing.assert_allclose(ours["het_f"], het["F"], atol=1e-6)
    np.testing.assert_allclose(ours["het_exp_hom"], het["E(HOM)"], rtol=1e-5)
    assert (ours["het_obs_hom"].to_numpy() == het["O(HOM)"].to_numpy()).all()


def test_sex_f_equals_plink19_check_sex_within_each_group(qc_run, small_cohort, tmp_path):
    result, _ = qc_run
    s, v = result.samples, result.variants
    x_used = v.loc[v["used_for_sample_qc"] & (v["chrom"] == "X"), "id"]
    extract = extract_file(tmp_path, x_used)
    for k in range(3):
        members = s.loc[(s["qc_fail"] != "call_rate") & (s["ancestry_group"] == k), "IID"]
        args = ["--bfile", str(small_cohort / "genotypes"), "--keep", keep_file(tmp_path, members)]
        cs = plink_out(
            "plink1.9", [*args, "--extract", extract, "--check-sex"], tmp_path, f"s{k}", "sexcheck"
        )
        ours = s.set_index("IID").loc[cs["IID"]]
        # plink1.9 prints F with 4 significant digits
        np.testing.assert_allclose(ours["x_f"], cs["F"], rtol=1e-3, atol=1e-4)
        # and flags exactly the samples igs removes for the sex check (or that were removed earlier)
        problem = set(cs.loc[cs["STATUS"] == "PROBLEM", "IID"])
        removed = set(ours.index[ours["qc_fail"] == "sex_check"])
        assert removed <= problem
        assert problem - removed <= set(ours.index[ours["qc_fail"] == "heterozygosity"])


def test_king_kinship_equals_plink2(qc_run, small_cohort, tmp_path):
    result, _ = qc_run
    s, v = result.samples, result.variants
    tested = s.loc[~s["qc_fail"].isin(["call_rate", "heterozygosity", "sex_check"]), "IID"]
    pruned = extract_file(tmp_path, v.loc[v["used_for_relatedness"], "id"])
    args = ["--bfile", str(small_cohort / "genotypes"), "--keep", keep_file(tmp_path, tested)]
    kin = plink_out(
        "plink2", [*args, "--extract", pruned, "--make-king-table"], tmp_path, "k", "kin0"
    )
    kin = kin[kin["KINSHIP"] > OPTS.kinship / 2]
    ours = result.king
    key = lambda a, b: tuple(sorted((a, b)))  # noqa: E731
    theirs = {key(a, b): k for a, b, k in kin[["IID1", "IID2", "KINSHIP"]].itertuples(index=False)}
    mine = {key(a, b): k for a, b, k in ours[["IID1", "IID2", "KINSHIP"]].itertuples(index=False)}
    assert set(theirs) == set(mine)
    for pair, k in theirs.items():
        assert mine[pair] == pytest.approx(k, abs=1e-6)


def test_pcs_agree_with_plink2_pca(qc_run, small_cohort, tmp_path):
    result, _ = qc_run
    final = result.samples.loc[result.samples["qc_fail"] == "", "IID"]
    args = [
        "--bfile", str(small_cohort / "genotypes"),
        "--keep", keep_file(tmp_path, final),
        "--extract", extract_file(tmp_path, result.loadings["id"]),
    ]  # fmt: skip
    vec = plink_out("plink2", [*args, "--pca", "4"], tmp_path, "p", "eigenvec")
    ours = result.pcs.set_index("IID").loc[vec["IID"]]
    for pc in ("PC1", "PC2"):
        r = np.corrcoef(ours[pc], vec[pc])[0, 1]
        assert abs(r) > 0.999, (pc, r)


def test_qc_genotypes_equal_plink2_make_bed(qc_run, small_cohort, tmp_path):
    result, out = qc_run
    s, v = result.samples, result.variants
    args = [
        "--bfile", str(small_cohort / "genotypes"),
        "--keep", keep_file(tmp_path, s.loc[s["qc_fail"] == "", "IID"]),
        "--extract", extract_file(tmp_path, v.loc[v["qc_fail"] == "", "id"]),
        "--make-bed",
    ]  # fmt: skip
    run_tool([require_tool("plink2"), *args, "--out", str(tmp_path / "ref")], tmp_path)
    assert (out / "genotypes.bed").read_bytes() == (tmp_path / "ref.bed").read_bytes()


# --------------------------------------------------------------------------- planted problems


def test_planted_low_callrate_samples_and_variants_exactly(qc_run, small_truth):
    result, _ = qc_run
    s, v = result.samples, result.variants
    planted = small_truth["planted"]
    assert set(s.loc[s["qc_fail"] == "call_rate", "IID"]) == set(planted["low_callrate_samples"])
    assert set(v.loc[v["qc_fail"] == "call_rate", "id"]) == set(planted["low_callrate_variants"])


def test_planted_heterozygosity_outliers_removed_and_only_beyond_bounds(qc_run, small_truth):
    result, _ = qc_run
    s = result.samples
    planted = set(small_truth["planted"]["heterozygosity_high"]) | set(
        small_truth["planted"]["heterozygosity_low"]
    )
    removed = set(s.loc[s["qc_fail"] == "heterozygosity", "IID"])
    assert planted <= removed
    tested = s[s["qc_fail"] != "call_rate"]
    outside = (tested["het_f"] < tested["het_f_low"]) | (tested["het_f"] > tested["het_f_high"])
    assert removed == set(tested.loc[outside, "IID"])
    # bounds are the group mean +/- 3 SD of F
    for _, grp in tested.groupby("ancestry_group"):
        mu, sd = grp["het_f"].mean(), grp["het_f"].std()
        assert grp["het_f_high"].iloc[0] == pytest.approx(mu + 3 * sd)
    # the planted outliers are the most extreme samples of their group
    z = tested.groupby("ancestry_group")["het_f"].transform(lambda f: (f - f.mean()) / f.std())
    extreme = set(tested.loc[z.abs().sort_values(ascending=False).index[: len(planted)], "IID"])
    assert extreme == planted


def test_planted_sex_mismatches_removed(qc_run, small_truth):
    result, _ = qc_run
    s = result.samples.set_index("IID")
    planted = small_truth["planted"]["sex_mismatch"]
    assert (s.loc[planted, "qc_fail"] == "sex_check").all()
    ok = s[s["qc_fail"] == ""]
    assert (ok["genetic_sex"] == ok["reported_sex"]).all()


def test_one_of_each_planted_related_pair_removed_and_no_one_else(qc_run, small_truth):
    result, _ = qc_run
    s = result.samples.set_index("IID")
    removed = set(s.index[s["qc_fail"] == "relatedness"])
    pairs = [
        p
        for p in small_truth["planted"]["related_pairs"]
        if (s.loc[p, "qc_fail"].isin(["", "relatedness"])).all()
    ]
    assert pairs
    for a, b in pairs:
        assert (a in removed) + (b in removed) == 1
    assert removed <= {i for p in pairs for i in p}
    related = result.king[result.king["KINSHIP"] > OPTS.kinship]
    assert {tuple(sorted(p)) for p in related[["IID1", "IID2"]].itertuples(index=False)} == {
        tuple(sorted(p)) for p in pairs
    }


def test_hwe_removals_are_planted(qc_run, small_truth):
    result, _ = qc_run
    v = result.variants.set_index("id")
    planted = set(small_truth["planted"]["hwe_fail_variants"]) & set(v.index)
    assert set(v.index[v["qc_fail"] == "hwe"]) <= planted
    assert (v.loc[sorted(planted), "qc_fail"] != "").all()


def test_ancestry_groups_recover_simulated_populations(qc_run, population):
    result, _ = qc_run
    s = result.samples[result.samples["ancestry_group"] >= 0]
    table = pd.crosstab(s["ancestry_group"], s["IID"].map(population))
    assert (table.gt(0).sum(axis=1) == 1).all()  # every group holds one population


def test_samples_to_remove_takes_the_hub_of_a_star():
    pairs = pd.DataFrame({"IID1": ["a", "a", "a", "x"], "IID2": ["b", "c", "d", "y"]})
    removed = samples_to_remove(pairs)
    assert removed[0] == "a" and len(removed) == 2


# --------------------------------------------------------------------------- outputs


def test_summary_counts_in_order_add_up(qc_run):
    _, out = qc_run
    summary = json.loads((out / "summary.json").read_text())
    for what in ("samples", "variants"):
        block = summary[what]
        removed = sum(step["removed"] for step in block["removed_in_order"])
        assert block["input"] - removed == block["final"]
    steps = [step["step"] for step in summary["samples"]["removed_in_order"]]
    assert steps == ["call_rate", "heterozygosity", "sex_check", "relatedness"]
    fam = plink.read_fam(out / "genotypes.fam")
    assert len(fam) == summary["samples"]["final"]
    pcs = pd.read_csv(out / "pcs.tsv", sep="\t")
    assert (
        list(pcs.columns[:3]) == ["FID", "IID", "PC1"] and len(pcs) == summary["samples"]["input"]
    )
    assert pcs["pca_fit"].sum() == len(fam)
    assert list(pcs.loc[pcs["pca_fit"], "IID"].astype(str)) == list(fam["IID"].astype(str))


def hand_projection(small_cohort, loadings, iids, tmp_path) -> pd.DataFrame:
    """PC1..PC4 of ``iids``: their plink2-exported A1 counts, HWE-normalised with the saved
    frequencies, times the saved loadings (missing calls count 0), computed here by hand."""
    ld = loadings
    a1 = tmp_path / "a1.txt"
    a1.write_text("".join(f"{i}\t{a}\n" for i, a in zip(ld["id"], ld["a1"], strict=True)))
    args = [
        "--bfile", str(small_cohort / "genotypes"), "--keep", keep_file(tmp_path, iids),
        "--extract", extract_file(tmp_path, ld["id"]), "--export", "A", "--export-allele", str(a1),
    ]  # fmt: skip
    raw = plink_out("plink2", args, tmp_path, "raw", "raw").set_index("IID")
    g = raw[[f"{i}_{a}" for i, a in zip(ld["id"], ld["a1"], strict=True)]].to_numpy(float)
    p = ld["a1_freq"].to_numpy(float)
    x = np.nan_to_num((g - 2 * p) / np.sqrt(2 * p * (1 - p) * len(p)))
    pcs = ["PC1", "PC2", "PC3", "PC4"]
    return pd.DataFrame(x @ ld[pcs].to_numpy(float), columns=pcs, index=raw.index.astype(str))


def test_samples_removed_by_qc_are_projected_onto_the_loadings(qc_run, small_cohort, tmp_path):
    result, _ = qc_run
    removed = result.pcs.loc[~result.pcs["pca_fit"], "IID"]
    assert len(removed) > 0
    expected = hand_projection(small_cohort, result.loadings, removed, tmp_path)
    ours = result.pcs.set_index(result.pcs["IID"].astype(str)).loc[expected.index, expected.columns]
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), atol=1e-4)


def test_pcs_of_a_fit_without_everyone_are_completed_by_projection(qc_run, small_cohort, tmp_path):
    """What the Hail engine's result goes through: only fitted rows in, everyone out."""
    from dataclasses import replace

    from igs.qc.run import project_the_rest

    result, _ = qc_run
    fitted = result.pcs[result.pcs["pca_fit"]].drop(columns="pca_fit")
    out = project_the_rest(str(small_cohort / "genotypes"), "bed", replace(result, pcs=fitted))
    fam = plink.read_fam(small_cohort / "genotypes.fam")
    assert list(out["IID"].astype(str)) == list(fam["IID"].astype(str))
    assert out["pca_fit"].sum() == len(fitted)
    rest = out[~out["pca_fit"]].set_index(out.loc[~out["pca_fit"], "IID"].astype(str))
    expected = hand_projection(small_cohort, result.loadings, rest.index, tmp_path)
    np.testing.assert_allclose(
        rest.loc[expected.index, expected.columns].to_numpy(), expected.to_numpy(), atol=1e-4
    )


def test_pgen_gives_the_same_qc_as_bed(qc_run, small_cohort):
    result, _ = qc_run
    other = run_local_qc(plink.open_genotypes(small_cohort / "genotypes", "pgen"), OPTS)
    pd.testing.assert_frame_equal(other.samples, result.samples)
    pd.testing.assert_frame_equal(other.variants, result.variants)


def test_chunk_size_does_not_change_results(qc_run, small_cohort):
    result, _ = qc_run
    from dataclasses import replace

    other = run_local_qc(
        plink.open_genotypes(small_cohort / "genotypes"), replace(OPTS, chunk_variants=4096)
    )
    pd.testing.assert_frame_equal(other.variants, result.variants)
    pd.testing.assert_frame_equal(other.pcs, result.pcs)


def test_one_thread_gives_the_same_qc_as_two(small_cohort, tmp_path):
    """``igs qc run --threads 1`` (numba, BLAS and pass 3 on one thread) writes the same
    decisions and statistics as ``--threads 2``; the PCs to float32 rounding of the sums."""
    out = {}
    for threads in (1, 2):
        out[threads] = tmp_path / f"t{threads}"
        proc = run_igs(
            "qc", "run", "--genotypes", str(small_cohort / "genotypes"), "--ancestry-groups", "3",
            "--threads", str(threads), "--out-dir", str(out[threads]),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    for name in ("variant_qc.tsv.gz", "sample_qc.tsv.gz", "king_pairs.tsv.gz"):
        read = {"sep": "\t", "keep_default_na": False, "na_values": [""]}
        one, two = (pd.read_csv(out[t] / name, **read) for t in (1, 2))
        pd.testing.assert_frame_equal(one, two, check_exact=False, rtol=1e-12)
    assert (out[1] / "genotypes.bed").read_bytes() == (out[2] / "genotypes.bed").read_bytes()
    one, two = (pd.read_csv(out[t] / "pcs.tsv", sep="\t") for t in (1, 2))
    for pc in ("PC1", "PC2"):
        np.testing.assert_allclose(one[pc], two[pc], atol=1e-4 * np.abs(two[pc]).max())


# --------------------------------------------------------------------------- bad input


def corrupt(kind: str, src, dst):
    dst.mkdir()
    for suffix in ("bed", "bim", "fam"):
        shutil.copy(src / f"genotypes.{suffix}", dst / f"g.{suffix}")
    bed, bim, fam = (dst / f"g.{s}" for s in ("bed", "bim", "fam"))
    if kind == "truncated":
        bed.write_bytes(bed.read_bytes()[:-100])
    elif kind == "magic":
        bed.write_bytes(b"\x00\x00\x00" + bed.read_bytes()[3:])
    elif kind == "rows":
        bim.write_text("".join(bim.read_text().splitlines(keepends=True)[:-1]))
    elif kind == "dup_sample":
        lines = fam.read_text().splitlines(keepends=True)
        lines[1] = lines[0]
        fam.write_text("".join(lines))
    elif kind == "dup_variant":
        lines = bim.read_text().splitlines(keepends=True)
        first = lines[0].split("\t")
        lines[1] = "\t".join([lines[1].split("\t")[0], first[1], *lines[1].split("\t")[2:]])
        bim.write_text("".join(lines))
    elif kind == "all_missing":
        data = bytearray(bed.read_bytes())
        width = (len(plink.read_fam(fam)) + 3) // 4
        data[3 : 3 + width] = bytes([0b01010101]) * width
        bed.write_bytes(bytes(data))
    return dst / "g"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("truncated", r"g\.bed: size .* truncated"),
        ("magic", r"g\.bed: not a variant-major PLINK 1 \.bed"),
        ("rows", r"g\.bed: size .* \.bim/\.fam row counts do not match"),
        ("dup_sample", r"g\.fam: 1 duplicate sample ID"),
        ("dup_variant", r"g\.bim: 1 duplicate variant ID"),
        ("all_missing", r"g\.bed: 1 variant\(s\) have no called genotype"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(kind, message, small_cohort, tmp_path):
    import re

    prefix = corrupt(kind, small_cohort, tmp_path / "in")
    out = tmp_path / "out"
    proc = run_igs("qc", "run", "--genotypes", str(prefix), "--out-dir", str(out))
    assert proc.returncode == 3, proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_too_few_variants_for_pca_is_a_clear_error(small_cohort, tmp_path):
    gset = plink.open_genotypes(small_cohort / "genotypes")
    with pytest.raises(InputFormatError, match="after LD pruning"):
        run_local_qc(gset, QCOptions(prune_min_maf=0.5))
