"""FactDesk performance benchmarks (``make bench``); measurements, never timed tests."""
