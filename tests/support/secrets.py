"""Fernet keys for tests (RALLYBOT_SECRET_KEY): fixed, so a failing run can be read back."""

TEST_KEY = "ojHFZ6FlUuKS-r_Foa1_lh6aofO3nGZG9lrPbWoICQc="
OTHER_KEY = "DP9z1albktyJg3j_M1KE4phmpgr3_8uQelay3CU7I4I="
