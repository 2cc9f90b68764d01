"""Tests of Home PKI."""
