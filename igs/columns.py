"""Column names shared across stages, in one place.

Scoring-file columns use the PGS Catalog names. Sample and phenotype columns use
the names documented in the README's column dictionary.
"""

from __future__ import annotations

# PGS Catalog scoring-file columns (format 2.0).
RSID = "rsID"
CHR_NAME = "chr_name"
CHR_POSITION = "chr_position"
EFFECT_ALLELE = "effect_allele"
OTHER_ALLELE = "other_allele"
EFFECT_WEIGHT = "effect_weight"
SCORING_FILE_COLUMNS = (RSID, CHR_NAME, CHR_POSITION, EFFECT_ALLELE, OTHER_ALLELE, EFFECT_WEIGHT)

# Sample identifiers.
FID = "FID"
IID = "IID"

# Clinical table (one row per person).
SEX = "sex"  # "male" / "female", as reported
BIRTH_DATE = "birth_date"
ENTRY_DATE = "entry_date"  # study entry (recruitment)
END_OF_FOLLOWUP = "end_of_followup"  # last date the person was observed
DEATH_DATE = "death_date"  # empty when alive at end of follow-up
BMI = "bmi"
SMOKING = "smoking"  # "never" / "former" / "current"
SBP = "sbp"  # systolic blood pressure, mmHg
CLINICAL_COLUMNS = (
    IID,
    SEX,
    BIRTH_DATE,
    ENTRY_DATE,
    END_OF_FOLLOWUP,
    DEATH_DATE,
    BMI,
    SMOKING,
    SBP,
)

# Diagnoses table (one row per recorded diagnosis).
DIAGNOSIS_DATE = "date"
ICD10 = "icd10"
CODE_SYSTEM = "code_system"  # optional diagnoses column: icd10 (default), icd9, icd8
RECORD_SOURCE = "source"  # optional diagnoses column: inpatient, outpatient, death, cancer
ATC = "atc"  # medication table: ATC code of a purchase
DIAGNOSES_COLUMNS = (IID, DIAGNOSIS_DATE, ICD10)

# Longitudinal omics table (long format: one row per measurement).
SAMPLE_DATE = "date"
ANALYTE = "analyte"
VALUE = "value"
OMICS_COLUMNS = (IID, SAMPLE_DATE, ANALYTE, VALUE)
