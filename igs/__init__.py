"""igs: integrative genetic scores.

Turns biobank genotypes and health records into validated, exportable risk scores.
Every stage is a subpackage of pure functions; the ``igs`` CLI and the Snakemake
workflow are thin layers over them.
"""

__version__ = "0.1.0"
