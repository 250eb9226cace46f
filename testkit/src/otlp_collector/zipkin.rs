//! Zipkin v2: JSON bodies decoded with the third-party `zipkin-types` model, then held to
//! the specification (zipkin2-api.yaml) strictly, field by field, because that model
//! accepts more than the specification allows and an exporter's mistakes must not pass.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::Value as Json;

/// Decodes a Zipkin v2 JSON body: first with the `zipkin-types` model (serde), then with
/// [`validate_zipkin_json`] for what that model accepts but the specification does not.
///
/// `zipkin-types` 1.1 declares `timestamp` and `duration` as `Option` fields with a serde
/// `with` module and no `default`, so it reports them as missing when a span omits them,
/// although the specification makes both optional. They are filled in as `null` (which
/// that model reads as absent) before decoding; a `null` in the body itself is still
/// rejected by the validation.
pub fn decode_zipkin(body: &[u8]) -> Result<Vec<zipkin_types::Span>, String> {
    let json: Json = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut filled = json.clone();
    if let Some(spans) = filled.as_array_mut() {
        for span in spans.iter_mut().filter_map(Json::as_object_mut) {
            for optional in ["timestamp", "duration"] {
                span.entry(optional).or_insert(Json::Null);
            }
        }
    }
    let spans: Vec<zipkin_types::Span> =
        serde_json::from_value(filled).map_err(|e| format!("zipkin-types: {e}"))?;
    validate_zipkin_json(&json)?;
    Ok(spans)
}

/// Checks a Zipkin v2 JSON body against the specification (zipkin2-api.yaml), strictly:
///
/// - the body is an array of span objects, with no field outside the v2 model and no
///   `null` values (omit a field instead);
/// - `traceId` is 16 or 32 lower-case hex digits, not all zero; `id` and `parentId` are 16
///   lower-case hex digits, not all zero; `traceId` and `id` are required;
/// - `kind` is one of `CLIENT`, `SERVER`, `PRODUCER`, `CONSUMER`;
/// - `timestamp` is an integer number of epoch microseconds and `duration` an integer number
///   of microseconds of at least 1;
/// - `tags` is an object whose values are all strings;
/// - `annotations` are `{timestamp, value}` objects with integer microseconds and a string;
/// - `localEndpoint` / `remoteEndpoint` have only `serviceName` (string), `ipv4` and `ipv6`
///   (addresses of that family) and `port` (integer 0..=65535);
/// - `name` is a string, `debug` and `shared` are booleans.
pub fn validate_zipkin_json(body: &Json) -> Result<(), String> {
    let spans = body
        .as_array()
        .ok_or("the body must be a JSON array of spans")?;
    for (i, span) in spans.iter().enumerate() {
        validate_zipkin_span(span).map_err(|e| format!("spans[{i}]: {e}"))?;
    }
    Ok(())
}

fn validate_zipkin_span(span: &Json) -> Result<(), String> {
    let fields = span.as_object().ok_or("a span must be a JSON object")?;
    for required in ["traceId", "id"] {
        if !fields.contains_key(required) {
            return Err(format!("missing required field `{required}`"));
        }
    }
    for (key, value) in fields {
        let checked = match key.as_str() {
            "traceId" => lower_hex_id(value, &[16, 32]),
            "id" | "parentId" => lower_hex_id(value, &[16]),
            "name" => string(value).map(drop),
            "kind" => match string(value)? {
                "CLIENT" | "SERVER" | "PRODUCER" | "CONSUMER" => Ok(()),
                other => Err(format!(
                    "{other:?} is not one of CLIENT, SERVER, PRODUCER, CONSUMER"
                )),
            },
            "timestamp" => micros(value, 0),
            "duration" => micros(value, 1),
            "debug" | "shared" => value
                .as_bool()
                .map(drop)
                .ok_or_else(|| format!("expected a boolean, found {value}")),
            "localEndpoint" | "remoteEndpoint" => endpoint(value),
            "annotations" => annotations(value),
            "tags" => tags(value),
            _ => Err("not a field of the Zipkin v2 span model".to_owned()),
        };
        checked.map_err(|e| format!("`{key}`: {e}"))?;
    }
    Ok(())
}

fn string(value: &Json) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, found {value}"))
}

fn lower_hex_id(value: &Json, lengths: &[usize]) -> Result<(), String> {
    let id = string(value)?;
    if !lengths.contains(&id.len()) {
        return Err(format!(
            "{id:?} has {} characters; expected {lengths:?} lower-case hex digits",
            id.len()
        ));
    }
    if !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!("{id:?} is not lower-case hex"));
    }
    if id.bytes().all(|b| b == b'0') {
        return Err(format!("{id:?} is all zeros"));
    }
    Ok(())
}

fn micros(value: &Json, minimum: u64) -> Result<(), String> {
    match value.as_u64() {
        Some(v) if v >= minimum => Ok(()),
        Some(v) => Err(format!("{v} is below the minimum {minimum}")),
        None => Err(format!(
            "expected an integer number of microseconds, found {value}"
        )),
    }
}

fn endpoint(value: &Json) -> Result<(), String> {
    let fields = value
        .as_object()
        .ok_or("an endpoint must be a JSON object")?;
    for (key, value) in fields {
        let checked = match key.as_str() {
            "serviceName" => string(value).map(drop),
            "ipv4" => string(value)?
                .parse::<Ipv4Addr>()
                .map(drop)
                .map_err(|e| format!("{value}: {e}")),
            "ipv6" => string(value)?
                .parse::<Ipv6Addr>()
                .map(drop)
                .map_err(|e| format!("{value}: {e}")),
            "port" => match value.as_u64() {
                Some(p) if p <= 65535 => Ok(()),
                _ => Err(format!("expected a port number, found {value}")),
            },
            _ => Err("not a field of the Zipkin v2 endpoint model".to_owned()),
        };
        checked.map_err(|e| format!("`{key}`: {e}"))?;
    }
    Ok(())
}

fn annotations(value: &Json) -> Result<(), String> {
    let items = value.as_array().ok_or("expected an array of annotations")?;
    for (i, item) in items.iter().enumerate() {
        let fields = item
            .as_object()
            .ok_or_else(|| format!("[{i}]: an annotation must be a JSON object"))?;
        let timestamp = fields
            .get("timestamp")
            .ok_or_else(|| format!("[{i}]: missing `timestamp`"))?;
        micros(timestamp, 0).map_err(|e| format!("[{i}].timestamp: {e}"))?;
        let text = fields
            .get("value")
            .ok_or_else(|| format!("[{i}]: missing `value`"))?;
        string(text).map_err(|e| format!("[{i}].value: {e}"))?;
        if let Some(other) = fields.keys().find(|k| *k != "timestamp" && *k != "value") {
            return Err(format!("[{i}]: `{other}` is not a field of an annotation"));
        }
    }
    Ok(())
}

fn tags(value: &Json) -> Result<(), String> {
    let fields = value
        .as_object()
        .ok_or("expected an object of string tags")?;
    for (key, value) in fields {
        if !value.is_string() {
            return Err(format!(
                "tag {key:?} is {value}; tag values must be strings"
            ));
        }
    }
    Ok(())
}
