use flunq_postgres::ErrorKind;
use serde_json::{Value, json};

use crate::support::{database, run, scalar};

/// Binds `value` as a parameter of `sql_type` and reads it back.
async fn echo(sql_type: &str, value: Value) -> Value {
    scalar(
        &database(),
        &format!("SELECT $1::{sql_type} AS v"),
        vec![value],
    )
    .await
}

#[tokio::test]
async fn integers_round_trip() {
    assert_eq!(echo("int2", json!(-32768)).await, json!(-32768));
    assert_eq!(echo("int4", json!(2147483647)).await, json!(2147483647));
    assert_eq!(
        echo("int8", json!(9007199254740992i64)).await,
        json!(9007199254740992i64)
    );
    assert_eq!(echo("int8", json!("-42")).await, json!(-42));
}

#[tokio::test]
async fn int8_beyond_two_to_the_53_comes_back_as_a_string() {
    assert_eq!(
        echo("int8", json!("9223372036854775807")).await,
        json!("9223372036854775807")
    );
}

#[tokio::test]
async fn integer_out_of_range_names_the_parameter() {
    let err = run(
        &database(),
        "SELECT $1::int2, $2::int2",
        vec![json!(1), json!(70000)],
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let message = err.to_string();
    assert!(
        message.contains("params[1]") && message.contains("int2"),
        "{message}"
    );
}

#[tokio::test]
async fn parameter_type_mismatch_names_the_parameter_and_type() {
    let err = run(&database(), "SELECT $1::int4 + 1", vec![json!("abc")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.to_string(), "params[0] (int4): `abc` is not an integer");
    let err = run(&database(), "SELECT $1::bool", vec![json!(1)])
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("params[0] (bool)"), "{err}");
}

#[tokio::test]
async fn floats_round_trip_with_special_values_as_strings() {
    assert_eq!(echo("float8", json!(1.25)).await, json!(1.25));
    assert_eq!(echo("float4", json!(0.1)).await, json!(0.1));
    assert_eq!(echo("float8", json!("NaN")).await, json!("NaN"));
    assert_eq!(echo("float8", json!("-Infinity")).await, json!("-Infinity"));
    assert_eq!(
        scalar(&database(), "SELECT 'Infinity'::float4", vec![]).await,
        json!("Infinity")
    );
}

#[tokio::test]
async fn numeric_keeps_precision() {
    let big = "12345678901234567890.123456789";
    assert_eq!(echo("numeric", json!(big)).await, json!(big));
    assert_eq!(
        scalar(&database(), &format!("SELECT {big}::numeric"), vec![]).await,
        json!(big)
    );
    assert_eq!(echo("numeric", json!(1.5)).await, json!(1.5));
    assert_eq!(echo("numeric", json!("1.50")).await, json!(1.5));
    assert_eq!(echo("numeric", json!(-7)).await, json!(-7));
    assert_eq!(
        scalar(&database(), "SELECT 0.1 + 0.2", vec![]).await,
        json!(0.3)
    );
    assert_eq!(echo("numeric", json!("NaN")).await, json!("NaN"));
    // The server agrees on the exact value it received.
    let equal = scalar(
        &database(),
        &format!("SELECT $1::numeric = {big}"),
        vec![json!(big)],
    )
    .await;
    assert_eq!(equal, json!(true));
}

#[tokio::test]
async fn text_types_round_trip() {
    assert_eq!(echo("text", json!("héllo")).await, json!("héllo"));
    assert_eq!(echo("varchar(10)", json!("abc")).await, json!("abc"));
    assert_eq!(echo("char(5)", json!("ab")).await, json!("ab   "));
    assert_eq!(echo("name", json!("pg_class")).await, json!("pg_class"));
    assert_eq!(echo("text", json!(42)).await, json!("42"));
    assert_eq!(
        scalar(&database(), "SELECT $1 AS untyped", vec![json!("x")]).await,
        json!("x")
    );
}

#[tokio::test]
async fn booleans_round_trip() {
    assert_eq!(echo("bool", json!(true)).await, json!(true));
    assert_eq!(echo("bool", json!(false)).await, json!(false));
}

#[tokio::test]
async fn dates_and_times_round_trip() {
    assert_eq!(echo("date", json!("2024-02-29")).await, json!("2024-02-29"));
    assert_eq!(echo("time", json!("13:14:15.5")).await, json!("13:14:15.5"));
    assert_eq!(
        echo("timestamp", json!("2024-05-06T07:08:09.123456")).await,
        json!("2024-05-06T07:08:09.123456")
    );
    assert_eq!(
        echo("timestamptz", json!("2024-05-06T07:08:09+02:00")).await,
        json!("2024-05-06T05:08:09Z")
    );
    assert_eq!(echo("date", json!("infinity")).await, json!("infinity"));
}

#[tokio::test]
async fn timestamptz_from_sql_comes_back_in_utc() {
    let v = scalar(
        &database(),
        "SELECT '2024-01-02 03:04:05.25-05'::timestamptz",
        vec![],
    )
    .await;
    assert_eq!(v, json!("2024-01-02T08:04:05.25Z"));
    let same = scalar(
        &database(),
        "SELECT $1::timestamptz = '2024-01-02 08:04:05.25Z'",
        vec![json!("2024-01-02T03:04:05.25-05:00")],
    )
    .await;
    assert_eq!(same, json!(true));
}

#[tokio::test]
async fn uuid_round_trips() {
    let id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    assert_eq!(echo("uuid", json!(id)).await, json!(id));
    assert_eq!(echo("uuid", json!(id.to_uppercase())).await, json!(id));
}

#[tokio::test]
async fn json_and_jsonb_keep_nesting() {
    let doc = json!({"a": [1, {"b": null, "c": "d"}], "e": 1.5, "f": true});
    assert_eq!(echo("json", doc.clone()).await, doc);
    assert_eq!(echo("jsonb", doc.clone()).await, doc);
    assert_eq!(echo("jsonb", json!([1, 2])).await, json!([1, 2]));
    assert_eq!(
        scalar(
            &database(),
            "SELECT $1::jsonb -> 'a' -> 1 ->> 'c'",
            vec![doc]
        )
        .await,
        json!("d")
    );
}

#[tokio::test]
async fn bytea_travels_as_base64() {
    assert_eq!(echo("bytea", json!("AAEC/w==")).await, json!("AAEC/w=="));
    assert_eq!(
        scalar(&database(), "SELECT '\\x00ff'::bytea", vec![]).await,
        json!("AP8=")
    );
    assert_eq!(
        scalar(
            &database(),
            "SELECT length($1::bytea)",
            vec![json!("AAEC/w==")]
        )
        .await,
        json!(4)
    );
    let err = run(&database(), "SELECT $1::bytea", vec![json!("not base64!")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("base64"), "{err}");
}

#[tokio::test]
async fn arrays_round_trip_with_nulls_and_dimensions() {
    assert_eq!(
        echo("int4[]", json!([1, null, 3])).await,
        json!([1, null, 3])
    );
    assert_eq!(echo("text[]", json!(["a", "b"])).await, json!(["a", "b"]));
    assert_eq!(echo("int8[]", json!([])).await, json!([]));
    assert_eq!(
        echo("int4[]", json!([[1, 2], [3, 4]])).await,
        json!([[1, 2], [3, 4]])
    );
    assert_eq!(
        scalar(
            &database(),
            "SELECT ARRAY[[1.5, 2], [3, 4]]::numeric[]",
            vec![]
        )
        .await,
        json!([[1.5, 2], [3, 4]])
    );
    assert_eq!(
        echo("jsonb[]", json!([[1, 2], {"a": 1}])).await,
        json!([[1, 2], {"a": 1}])
    );
    assert_eq!(
        echo("date[]", json!(["2024-01-01", null])).await,
        json!(["2024-01-01", null])
    );
    let err = run(&database(), "SELECT $1::int4[]", vec![json!([[1, 2], [3]])])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("rectangular"), "{err}");
}

#[tokio::test]
async fn null_binds_and_reads_for_every_type() {
    let types = [
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "numeric",
        "text",
        "bool",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "uuid",
        "json",
        "jsonb",
        "bytea",
        "int4[]",
    ];
    let select: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t} AS c{i}", i + 1))
        .collect();
    let result = run(
        &database(),
        &format!("SELECT {}", select.join(", ")),
        vec![Value::Null; types.len()],
    )
    .await
    .unwrap();
    assert!(result.rows[0].values().all(Value::is_null), "{result:?}");
    assert_eq!(result.rows[0].len(), types.len());
}

#[tokio::test]
async fn unknown_types_come_back_as_named_binary() {
    let v = scalar(&database(), "SELECT '(1,2)'::point", vec![]).await;
    assert_eq!(v["type"], json!("point"));
    // point's binary form: two float8s, 1.0 and 2.0.
    assert_eq!(v["base64"], json!("P/AAAAAAAABAAAAAAAAAAA=="));
    assert_eq!(
        scalar(&database(), "SELECT '(1,2)'::point::text", vec![]).await,
        json!("(1,2)")
    );
}

#[tokio::test]
async fn unknown_parameter_types_are_refused_by_name() {
    let err = run(&database(), "SELECT $1::point", vec![json!("(1,2)")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().starts_with("params[0] (point)"), "{err}");
}

/// interval, timetz, inet, cidr, macaddr and macaddr8 come back as the text the server
/// itself writes for them (its output function, which `format('%s', v)` calls; `::text`
/// differs for inet, where it always adds the prefix length), compared value by value.
#[tokio::test]
async fn types_shown_as_text_match_the_servers_own_text() {
    let cases = [
        ("interval", "0"),
        ("interval", "1 year 2 mons 3 days 04:05:06.5"),
        ("interval", "-1 second"),
        ("interval", "1 day -1 hour"),
        ("interval", "-1 day +1 hour"),
        ("interval", "-13 months"),
        ("interval", "1 mon 1 day"),
        ("interval", "-1 year -2 mons +3 days -04:05:06.789"),
        ("interval", "100 hours 0.000001 seconds"),
        ("timetz", "10:00:00+02"),
        ("timetz", "23:59:59.25-05:30"),
        ("timetz", "00:00:00+00"),
        ("timetz", "12:00:00+05:45:30"),
        ("inet", "192.168.0.1"),
        ("inet", "192.168.0.1/24"),
        ("inet", "::1"),
        ("inet", "2001:db8::1/64"),
        ("inet", "::ffff:10.0.0.1"),
        ("inet", "::1.2.3.4"),
        ("inet", "::0.0.1.2"),
        ("cidr", "::1.2.3.0/120"),
        ("cidr", "10.0.0.0/8"),
        ("cidr", "192.168.1.5/32"),
        ("cidr", "2001:db8::/32"),
        ("macaddr", "08:00:2b:01:02:03"),
        ("macaddr8", "08:00:2b:01:02:03:04:05"),
    ];
    let db = database();
    for (sql_type, literal) in cases {
        let sql =
            format!("SELECT v, format('%s', v) AS t FROM (SELECT '{literal}'::{sql_type} AS v) s");
        let result = run(&db, &sql, vec![]).await.unwrap();
        let row = &result.rows[0];
        assert_eq!(row["v"], row["t"], "{sql_type} '{literal}'");
        assert!(row["v"].is_string(), "{sql_type} '{literal}': {row:?}");
    }
    // And inside arrays.
    let v = scalar(
        &db,
        "SELECT ARRAY['1 day'::interval, NULL, '-00:00:01']",
        vec![],
    )
    .await;
    assert_eq!(v, json!(["1 day", null, "-00:00:01"]));
}
