"""Reading a causal question's own text, one concern per module: the value-word lexicon (``lexicon``, words in
``value_words.json``), stated probabilities (``statements``), names and graphs (``graphs``), value-word
coding per item (``coding``) and questions (``questions``). :mod:`whygym.benchmarks.parse` puts them together
into the record parsers.
"""
