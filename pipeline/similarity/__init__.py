"""Movie→movie similarity: the vectors "similar movies" are served from, and how they are chosen.

    item factors (ALS) ─┐
    genres, year, tags ─┴─► representations.movie_vectors ─► `similar` (dense_vector, dot_product)
    msr-100k split ─► protocol (hit rate, nDCG, genre coherence, popularity lift) ─► scripts/bench_similarity.py

The user→movie space (`factors`, ALS inner products) is not touched: only "similar
to this movie" reads these vectors.
"""
