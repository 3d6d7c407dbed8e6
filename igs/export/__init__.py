"""Per-person exports for clinicians: a CSV and FHIR R4 RiskAssessment resources."""
