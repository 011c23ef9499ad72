"""The weekly digest's weeks, figures and words: pure functions the digest service uses."""
