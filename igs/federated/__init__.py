"""Federated analysis: one Cox model across biobanks, only aggregates leave a biobank.

:mod:`igs.federated.node` computes what a biobank sends (counts, feature moments, the
log-likelihood with its gradient and Hessian, coarse-grid curve counts, evaluation counts), each
message checked by :func:`igs.federated.node.release`; :mod:`igs.federated.central` combines them
(Newton iterations of a Cox model stratified by biobank, pooled curves and metrics);
:mod:`igs.federated.algorithm` wraps both as a Vantage6 algorithm package.
"""
