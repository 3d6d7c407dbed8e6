"""The phenotype stage: health records (plain tables or OMOP CDM) to endpoints and features."""

from igs.pheno.build import build_phenotypes
from igs.pheno.endpoints import CodeSet, EndpointSpec, build_endpoint
from igs.pheno.features import covariate_table, omics_landmark_features
from igs.pheno.omop import OmopConcepts, read_omop_records, write_omop
from igs.pheno.records import HealthRecords, read_table_records, validate_records

__all__ = [
    "CodeSet",
    "EndpointSpec",
    "HealthRecords",
    "OmopConcepts",
    "build_endpoint",
    "build_phenotypes",
    "covariate_table",
    "omics_landmark_features",
    "read_omop_records",
    "read_table_records",
    "validate_records",
    "write_omop",
]
