use brum_plugin_errors::reject::cannot_start;
#[test]
fn scratch() {
    let lines: Vec<Vec<u8>> = (0..61560).map(|i| format!("{i:06} GET /api/items?page={} 200 in {}ms", i % 50, i % 13).into_bytes()).collect();
    let rounds: usize = std::env::var("R").ok().and_then(|r| r.parse().ok()).unwrap_or(10);
    let t = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..rounds { for l in &lines { n += cannot_start(std::hint::black_box(l)) as usize; } }
    let el = t.elapsed().as_nanos() as f64 / (rounds * lines.len()) as f64;
    println!("cannot_start: {el:.1} ns/line ({n})");
}
