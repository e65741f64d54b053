//! Reading back numbers that may be NaN: JSON has no NaN, and serde_json writes a NaN `f64` as
//! `null`. These deserializers read `null` back as NaN, so a report with an undefined number
//! (an R² of a constant target, the mean of an empty group) round-trips, while a *missing*
//! field is still an error.

use serde::{Deserialize, Deserializer};

/// An `f64` written as a number, or `null` for NaN.
pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A list of `f64`, each a number or `null` for NaN.
pub fn vec_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::f64")]
        x: f64,
        #[serde(deserialize_with = "super::vec_f64")]
        v: Vec<f64>,
    }

    #[test]
    fn null_is_nan_and_a_missing_field_is_an_error() {
        let t: T = serde_json::from_str(r#"{"x": null, "v": [1.5, null]}"#).unwrap();
        assert!(t.x.is_nan() && t.v[0] == 1.5 && t.v[1].is_nan());
        let e = serde_json::from_str::<T>(r#"{"v": []}"#).err().unwrap();
        assert!(e.to_string().contains("missing field `x`"), "{e}");
    }
}
