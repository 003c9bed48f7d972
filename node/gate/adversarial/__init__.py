"""Hostile inputs for the gate and every other boundary that reads miner data, with the reason each must get.

`registry.all_cases()` lists them; `runner.run_cases` runs them in address-space-limited worker
processes and judges each; `scripts/adversarial_report` prints the table. Valid inputs are cases too.
"""
