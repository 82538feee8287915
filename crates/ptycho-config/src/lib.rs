//! Canonical configuration, legacy params snapshot and the PtychoPINN config bridge.
