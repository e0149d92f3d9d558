"""Local stand-ins for what a cluster provides, for tests, benchmarks and the demo.

Never imported by product code (an import contract says so).
"""
