"""The admission webhook: AdmissionReview in; allow/deny, warnings and a JSONPatch out."""
