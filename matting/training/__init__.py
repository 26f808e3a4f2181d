"""Training, shared by both stages.

- :mod:`~matting.training.state`: the exact-resume state (:class:`TrainingState`) and model saves.
- :mod:`~matting.training.callbacks`: stopping on a non-finite loss, TensorBoard epoch summaries.
- :mod:`~matting.training.fit`: compile and fit one net (metrics, learning rate, distribution).
- :mod:`~matting.training.stage`: :func:`train_stage`, one stage from its config.
"""
