"""Tests of the PKI core, with real keys and certificates and no Home Assistant."""
