//! A human-readable description of a bundle (what `ptycho inspect` prints).

use std::fmt;

use crate::layout::ModelRole;
use crate::read::BundleSummary;
use crate::tensor::ModelSchema;

fn parameter_count(schema: &ModelSchema) -> usize {
    schema
        .iter()
        .map(|(_, spec)| spec.shape.iter().product::<usize>())
        .sum()
}

impl BundleSummary {
    /// The tensors of one role.
    pub fn tensors(&self, role: ModelRole) -> &ModelSchema {
        match role {
            ModelRole::DiffractionToObj => &self.diffraction_to_obj,
            ModelRole::Autoencoder => &self.autoencoder,
        }
    }
}

impl fmt::Display for BundleSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        let c = &self.config;
        writeln!(f, "bundle      {}", self.path.display())?;
        writeln!(
            f,
            "format      {} (safetensors weights, JSON params)",
            m.version
        )?;
        writeln!(f, "backend     {}", m.backend)?;
        writeln!(f, "created     {}", m.created_at)?;
        let versions: Vec<String> = m
            .crate_versions
            .iter()
            .map(|(name, version)| format!("{name} {version}"))
            .collect();
        writeln!(f, "written by  {}", versions.join(", "))?;
        writeln!(
            f,
            "model       N={} gridsize={} architecture={} model_type={} n_filters_scale={}",
            c.model.N,
            c.model.gridsize,
            c.model.architecture,
            c.model.model_type,
            c.model.n_filters_scale
        )?;
        writeln!(
            f,
            "training    nepochs={} batch_size={} n_groups={} nphotons={}",
            c.nepochs, c.batch_size, c.n_groups, c.nphotons
        )?;
        writeln!(f, "intensity   scale={}", self.intensity_scale)?;
        for role in ModelRole::ALL {
            let schema = self.tensors(role);
            writeln!(
                f,
                "{role}: {} tensors, {} values",
                schema.len(),
                parameter_count(schema)
            )?;
            for (name, spec) in schema.iter() {
                writeln!(f, "  {name:<40} {spec}")?;
            }
        }
        Ok(())
    }
}
