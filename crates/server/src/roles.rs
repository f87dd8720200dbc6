//! Which role may send which command, and for whom: a table keyed by the command's `"type"`
//! string and the field that names who acts, so that command types added to the engine later
//! work with an admin key at once and get their role rules from this table.

use crate::keys::{KeyRecord, Role};
use serde_json::Value;

/// One rule: a role may send a command type; when `owner_field` is set, that field must name
/// the key's account (or, for oracles, its source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The command's `"type"`.
    pub command_type: &'static str,
    /// The role allowed besides admin.
    pub role: Role,
    /// The field that must equal the key's account, if any.
    pub owner_field: Option<&'static str>,
}

const fn rule(command_type: &'static str, role: Role, owner_field: Option<&'static str>) -> Rule {
    Rule {
        command_type,
        role,
        owner_field,
    }
}

/// The role table (issue 7). Admin keys may send every type and are not listed.
pub const RULES: &[Rule] = &[
    rule("deposit", Role::Trader, Some("account")),
    rule("withdraw", Role::Trader, Some("account")),
    rule("trade", Role::Trader, Some("account")),
    rule("lp_deposit", Role::Lp, Some("lp")),
    rule("lp_withdraw", Role::Lp, Some("lp")),
    rule("oracle_price", Role::Oracle, Some("source")),
    rule("oracle_vol", Role::Oracle, Some("source")),
    rule("tick", Role::Keeper, None),
    rule("liquidate", Role::Keeper, None),
    rule("hedge_fill", Role::Keeper, None),
    rule("propose", Role::Governance, Some("proposer")),
    rule("vote", Role::Governance, Some("voter")),
    rule("execute", Role::Governance, None),
    rule("governance_transfer", Role::Governance, Some("from")),
    rule("council_set", Role::Governance, Some("member")),
    rule("emergency_set", Role::Governance, Some("member")),
];

/// Checks that `key` may send `command` (a JSON object with a string `"type"`); the error is
/// the 403 message.
pub fn authorize(key: &KeyRecord, command: &Value) -> Result<(), String> {
    if key.role == Role::Admin {
        return Ok(());
    }
    let command_type = command.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(rule) = RULES
        .iter()
        .find(|r| r.command_type == command_type && r.role == key.role)
    else {
        return Err(format!(
            "a {} key may not send {command_type:?} commands",
            key.role
        ));
    };
    let Some(field) = rule.owner_field else {
        return Ok(());
    };
    let named = command.get(field).and_then(Value::as_str);
    match (&key.account, named) {
        (Some(own), Some(named)) if own == named => Ok(()),
        (Some(own), named) => Err(format!(
            "this {} key acts for {own:?} only, but the command's {field} is {}",
            key.role,
            named.map_or_else(|| "missing".to_string(), |n| format!("{n:?}"))
        )),
        (None, _) => Err(format!(
            "this {} key names no account, so it cannot send {command_type:?}",
            key.role
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(role: Role, account: Option<&str>) -> KeyRecord {
        KeyRecord {
            id: "k".into(),
            hash: "h".into(),
            role,
            account: account.map(str::to_string),
            created: 0,
        }
    }

    #[test]
    fn role_table_allows_own_account_and_forbids_others() {
        let cases = [
            (
                Role::Trader,
                "alice",
                json!({"type":"trade","account":"alice"}),
                true,
            ),
            (
                Role::Trader,
                "alice",
                json!({"type":"trade","account":"bob"}),
                false,
            ),
            (
                Role::Trader,
                "alice",
                json!({"type":"lp_deposit","lp":"alice"}),
                false,
            ),
            (
                Role::Lp,
                "carol",
                json!({"type":"lp_withdraw","lp":"carol"}),
                true,
            ),
            (
                Role::Lp,
                "carol",
                json!({"type":"lp_deposit","lp":"dave"}),
                false,
            ),
            (
                Role::Oracle,
                "feed1",
                json!({"type":"oracle_price","source":"feed1"}),
                true,
            ),
            (
                Role::Oracle,
                "feed1",
                json!({"type":"oracle_vol","source":"feed2"}),
                false,
            ),
            (Role::Keeper, "k", json!({"type":"tick"}), true),
            (
                Role::Keeper,
                "k",
                json!({"type":"liquidate","liquidator":"x"}),
                true,
            ),
            (Role::Keeper, "k", json!({"type":"create_pool"}), false),
            (
                Role::Governance,
                "g",
                json!({"type":"vote","voter":"g"}),
                true,
            ),
            (
                Role::Governance,
                "g",
                json!({"type":"propose","proposer":"h"}),
                false,
            ),
            (
                Role::Governance,
                "g",
                json!({"type":"execute","proposal":1}),
                true,
            ),
            (Role::Admin, "", json!({"type":"anything_new"}), true),
        ];
        for (role, account, cmd, ok) in cases {
            let k = key(role, (!account.is_empty()).then_some(account));
            assert_eq!(authorize(&k, &cmd).is_ok(), ok, "{role} {account} {cmd}");
        }
    }

    #[test]
    fn key_without_account_cannot_act_for_anyone() {
        let k = key(Role::Trader, None);
        assert!(authorize(&k, &json!({"type":"deposit","account":"alice"})).is_err());
    }
}
