"""Training: fine-tuning (``finetune``) and MNRL pre-training (``pretrain``), with what both use: task
sampling, checkpoints, the epoch loop and progress lines."""
