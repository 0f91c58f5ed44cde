//! Amounts in the chain's own units: its token symbol and decimals, as the node's
//! `system_properties` reports them (`tokenSymbol`, `tokenDecimals`).

/// A chain's token: `12_345_000_000_000` with 12 decimals is `12.345 UNIT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Units {
    pub symbol: String,
    pub decimals: u8,
}

impl Default for Units {
    /// What a Substrate chain that names no token uses.
    fn default() -> Self {
        Self {
            symbol: "UNIT".into(),
            decimals: 12,
        }
    }
}

impl Units {
    /// From `system_properties`: a missing or malformed field keeps the default. Chains
    /// with several tokens give arrays; the first is the native one.
    pub fn from_properties(props: &serde_json::Map<String, serde_json::Value>) -> Self {
        let first = |v: &serde_json::Value| match v {
            serde_json::Value::Array(a) => a.first().cloned(),
            other => Some(other.clone()),
        };
        let mut units = Self::default();
        if let Some(serde_json::Value::String(s)) = props.get("tokenSymbol").and_then(first) {
            units.symbol = s;
        }
        if let Some(d) = props
            .get("tokenDecimals")
            .and_then(first)
            .and_then(|d| d.as_u64())
            .and_then(|d| u8::try_from(d).ok())
            .filter(|d| *d <= 38)
        {
            units.decimals = d;
        }
        units
    }

    /// `amount` (in the chain's smallest unit) as `1.5 UNIT`: the whole part, then the
    /// fraction with its trailing zeros dropped.
    pub fn format(&self, amount: u128) -> String {
        let scale = 10u128.pow(u32::from(self.decimals));
        let (whole, frac) = (amount / scale, amount % scale);
        if frac == 0 {
            return format!("{whole} {}", self.symbol);
        }
        let digits = format!("{frac:0width$}", width = usize::from(self.decimals));
        format!("{whole}.{} {}", digits.trim_end_matches('0'), self.symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_in_the_chains_units() {
        let u = Units::default();
        assert_eq!(u.format(0), "0 UNIT");
        assert_eq!(u.format(1_500_000_000_000), "1.5 UNIT");
        assert_eq!(u.format(12_345_000_000_000), "12.345 UNIT");
        assert_eq!(u.format(1), "0.000000000001 UNIT");
        let dot = Units {
            symbol: "DOT".into(),
            decimals: 10,
        };
        assert_eq!(dot.format(25_000_000_000), "2.5 DOT");
        let none = Units {
            symbol: "X".into(),
            decimals: 0,
        };
        assert_eq!(none.format(42), "42 X");
        assert_eq!(Units::default().format(u128::MAX).len(), 45);
    }

    #[test]
    fn properties_give_symbol_and_decimals() {
        let props = |v: serde_json::Value| v.as_object().unwrap().clone();
        let u = Units::from_properties(&props(
            serde_json::json!({"tokenSymbol": "ROC", "tokenDecimals": 12, "ss58Format": 42}),
        ));
        assert_eq!((u.symbol.as_str(), u.decimals), ("ROC", 12));
        let u = Units::from_properties(&props(
            serde_json::json!({"tokenSymbol": ["KSM", "X"], "tokenDecimals": [12, 18]}),
        ));
        assert_eq!((u.symbol.as_str(), u.decimals), ("KSM", 12));
        let u = Units::from_properties(&props(serde_json::json!({"tokenDecimals": 400})));
        assert_eq!(u, Units::default());
    }
}
