//! The setter macro shared by the configuration builders.
//!
//! Each builder wraps the configuration value it builds; the macro writes one chainable setter
//! per field so that the builders cannot drift from the field list.

/// `setters!(Builder { field: Type, ... })` writes `pub fn field(mut self, value: Type) -> Self`.
macro_rules! setters {
    ($builder:ident { $($field:ident : $ty:ty),+ $(,)? }) => {
        #[allow(non_snake_case)]
        impl $builder {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                pub fn $field(mut self, value: $ty) -> Self {
                    self.0.$field = value;
                    self
                }
            )+
        }
    };
}

pub(crate) use setters;
