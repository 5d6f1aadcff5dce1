"""Training: a run defined once (config), the loop as a generator of records (loop), evaluation and
calibration (evaluate), torchrun (distributed), fine-tuning on corrections (finetune), and a run in its
own process (worker, protocol) served to many visitors by one job service (jobs)."""
