"""FactDesk's recorded eval suite: gold cases, metrics, cassettes, reports, baseline gate.

``factdesk evals run`` replays every case offline through the real pipeline;
``factdesk evals run --record`` re-records against a live model (``make evals-record``).
"""
