;; SIMD fast path of the browser preview's per-pixel stages (adjust-preview.js, docs/adjustments.md):
;; stage 1 from three tables, optionally the neighbourhood sliders (texture, clarity, dehaze) from
;; their maps, optionally stage 2 (saturation, vibrance), then round half up, clip and pack — four
;; pixels at a time in f32x4. adjust-preview.js is the reference (its JS loops run wherever this
;; cannot: no WebAssembly, no SIMD, the file not loaded) and this file follows its formulas and
;; their order; f32 instead of f64 moves a result by one code value only at rounding ties
;; (tests/browser/test_preview_wasm.py holds it to that).
;;
;; Build (the .wasm next to this file is committed; rebuild it after any change here):
;;   npx --yes -p wabt@1.0.39 wat2wasm frontend/static/js/preview-kernel.wat -o frontend/static/js/preview-kernel.wasm
;;
;; Memory (laid out by adjust-preview.js): bytes 0..3071 the stage-1 tables in code units (f32 ×
;; 256 for R, then G, then B); elsewhere the source words, the output words and the maps, each 4
;; bytes per pixel, so one byte offset walks all of them. The loop runs over whole groups of four:
;; the caller leaves room for up to three pixels past the end and ignores what is written there.
(module
  (memory (export "memory") 1)

;; flags: 1 texture, 2 clarity, 4 haze, 8 colour (stage 2).
  ;; s, d: source and output words; t, c, h: the texture, clarity and haze maps (f32 per pixel);
  ;; n: pixels. kt255 = texture gain · 255, kc4 = 4 · clarity gain / 255, kd = dehaze strength,
  ;; a = 1 + saturation, vk = vibrance / 255².
  ;; The machines this runs on share their vector units between cores more often than not, so every
  ;; vector instruction counts: table offsets come from scalar byte loads (integer units), and the
  ;; output bytes from the float bits (x + 2²³ holds round(x) in its low bits, once x is clipped).
  (func (export "render")
    (param $s i32) (param $d i32) (param $t i32) (param $c i32) (param $h i32) (param $n i32)
    (param $flags i32) (param $kt255 f32) (param $kc4 f32) (param $kd f32) (param $a f32) (param $vk f32)
    (local $i i32) (local $p i32) (local $end i32) (local $v v128)
    (local $r v128) (local $g v128) (local $b v128) (local $y v128) (local $add v128)
    (local $sh v128) (local $inv v128) (local $s255 v128) (local $m v128) (local $f v128)
    (local $ktv v128) (local $kcv v128) (local $kdv v128) (local $av v128) (local $avk v128)
    (local.set $ktv (f32x4.splat (local.get $kt255)))
    (local.set $kcv (f32x4.splat (local.get $kc4)))
    (local.set $kdv (f32x4.splat (local.get $kd)))
    (local.set $av (f32x4.splat (local.get $a)))
    (local.set $avk (f32x4.splat (f32.mul (local.get $a) (local.get $vk))))
    (local.set $end (i32.shl (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        ;; stage 1: the tables at 4·R, 1024 + 4·G, 2048 + 4·B for four pixels (R the first byte)
        (local.set $p (i32.add (local.get $s) (local.get $i)))
        (local.set $v (v128.load (local.get $p)))
        (local.set $r (v128.load32_zero (i32.shl (i32.load8_u offset=0 (local.get $p)) (i32.const 2))))
        (local.set $g (v128.load32_zero offset=1024 (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 2))))
        (local.set $b (v128.load32_zero offset=2048 (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 2))))
        (local.set $r (v128.load32_lane 1 (i32.shl (i32.load8_u offset=4 (local.get $p)) (i32.const 2)) (local.get $r)))
        (local.set $g (v128.load32_lane offset=1024 1 (i32.shl (i32.load8_u offset=5 (local.get $p)) (i32.const 2)) (local.get $g)))
        (local.set $b (v128.load32_lane offset=2048 1 (i32.shl (i32.load8_u offset=6 (local.get $p)) (i32.const 2)) (local.get $b)))
        (local.set $r (v128.load32_lane 2 (i32.shl (i32.load8_u offset=8 (local.get $p)) (i32.const 2)) (local.get $r)))
        (local.set $g (v128.load32_lane offset=1024 2 (i32.shl (i32.load8_u offset=9 (local.get $p)) (i32.const 2)) (local.get $g)))
        (local.set $b (v128.load32_lane offset=2048 2 (i32.shl (i32.load8_u offset=10 (local.get $p)) (i32.const 2)) (local.get $b)))
        (local.set $r (v128.load32_lane 3 (i32.shl (i32.load8_u offset=12 (local.get $p)) (i32.const 2)) (local.get $r)))
        (local.set $g (v128.load32_lane offset=1024 3 (i32.shl (i32.load8_u offset=13 (local.get $p)) (i32.const 2)) (local.get $g)))
        (local.set $b (v128.load32_lane offset=2048 3 (i32.shl (i32.load8_u offset=14 (local.get $p)) (i32.const 2)) (local.get $b)))
        ;; stage 1b, detail: texture kt255·T, clarity kc4·C·Y(255 − Y) with Y of the stage-1 values
        ;; clipped to [0, 255]; the same amount on every channel
        (if (i32.and (local.get $flags) (i32.const 3))
          (then
            (local.set $add (v128.const f32x4 0 0 0 0))
            (if (i32.and (local.get $flags) (i32.const 1))
              (then (local.set $add (f32x4.mul (local.get $ktv) (v128.load (i32.add (local.get $t) (local.get $i)))))))
            (if (i32.and (local.get $flags) (i32.const 2))
              (then
                (local.set $y (f32x4.add (f32x4.add
                  (f32x4.mul (local.get $r) (v128.const f32x4 0.2126 0.2126 0.2126 0.2126))
                  (f32x4.mul (local.get $g) (v128.const f32x4 0.7152 0.7152 0.7152 0.7152)))
                  (f32x4.mul (local.get $b) (v128.const f32x4 0.0722 0.0722 0.0722 0.0722))))
                (local.set $y (f32x4.pmin (v128.const f32x4 255 255 255 255)
                                          (f32x4.pmax (v128.const f32x4 0 0 0 0) (local.get $y))))
                (local.set $add (f32x4.add (local.get $add)
                  (f32x4.mul (f32x4.mul (f32x4.mul (local.get $kcv) (v128.load (i32.add (local.get $c) (local.get $i))))
                                        (local.get $y))
                             (f32x4.sub (v128.const f32x4 255 255 255 255) (local.get $y)))))))
            (local.set $r (f32x4.add (local.get $r) (local.get $add)))
            (local.set $g (f32x4.add (local.get $g) (local.get $add)))
            (local.set $b (f32x4.add (local.get $b) (local.get $add)))))
        ;; stage 1b, dehaze: x → (x − 255·sh) / (1 − sh), sh = kd · haze
        (if (i32.and (local.get $flags) (i32.const 4))
          (then
            (local.set $sh (f32x4.mul (local.get $kdv) (v128.load (i32.add (local.get $h) (local.get $i)))))
            (local.set $inv (f32x4.div (v128.const f32x4 1 1 1 1) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $sh))))
            (local.set $s255 (f32x4.mul (v128.const f32x4 255 255 255 255) (local.get $sh)))
            (local.set $r (f32x4.mul (f32x4.sub (local.get $r) (local.get $s255)) (local.get $inv)))
            (local.set $g (f32x4.mul (f32x4.sub (local.get $g) (local.get $s255)) (local.get $inv)))
            (local.set $b (f32x4.mul (f32x4.sub (local.get $b) (local.get $s255)) (local.get $inv)))))
        ;; stage 2: f = a · (1 + vk · m²) = a + a·vk · m², m = 255 − min(max − min, 255); x → Y + f · (x − Y)
        (if (i32.and (local.get $flags) (i32.const 8))
          (then
            (local.set $y (f32x4.add (f32x4.add
              (f32x4.mul (local.get $r) (v128.const f32x4 0.2126 0.2126 0.2126 0.2126))
              (f32x4.mul (local.get $g) (v128.const f32x4 0.7152 0.7152 0.7152 0.7152)))
              (f32x4.mul (local.get $b) (v128.const f32x4 0.0722 0.0722 0.0722 0.0722))))
            (local.set $m (f32x4.pmax (v128.const f32x4 0 0 0 0)
              (f32x4.sub (v128.const f32x4 255 255 255 255)
                (f32x4.sub (f32x4.pmax (f32x4.pmax (local.get $r) (local.get $g)) (local.get $b))
                           (f32x4.pmin (f32x4.pmin (local.get $r) (local.get $g)) (local.get $b))))))
            (local.set $f (f32x4.add (local.get $av) (f32x4.mul (local.get $avk) (f32x4.mul (local.get $m) (local.get $m)))))
            (local.set $r (f32x4.add (local.get $y) (f32x4.mul (local.get $f) (f32x4.sub (local.get $r) (local.get $y)))))
            (local.set $g (f32x4.add (local.get $y) (f32x4.mul (local.get $f) (f32x4.sub (local.get $g) (local.get $y)))))
            (local.set $b (f32x4.add (local.get $y) (f32x4.mul (local.get $f) (f32x4.sub (local.get $b) (local.get $y)))))))
        ;; clip to [0, 255] (pmax(0, NaN) is 0, as in the JS) and round: the low bits of x + 2²³ are
        ;; round-to-nearest-even(x), i.e. the JS's round half up except at exact ties. The 2²³ in the
        ;; bits (0x4B000000) is gone from G and B once shifted and is xored out of R with the alpha.
        (local.set $r (f32x4.add (v128.const f32x4 8388608 8388608 8388608 8388608)
          (f32x4.pmin (v128.const f32x4 255 255 255 255) (f32x4.pmax (v128.const f32x4 0 0 0 0) (local.get $r)))))
        (local.set $g (f32x4.add (v128.const f32x4 8388608 8388608 8388608 8388608)
          (f32x4.pmin (v128.const f32x4 255 255 255 255) (f32x4.pmax (v128.const f32x4 0 0 0 0) (local.get $g)))))
        (local.set $b (f32x4.add (v128.const f32x4 8388608 8388608 8388608 8388608)
          (f32x4.pmin (v128.const f32x4 255 255 255 255) (f32x4.pmax (v128.const f32x4 0 0 0 0) (local.get $b)))))
        (v128.store (i32.add (local.get $d) (local.get $i))
          (v128.or
            (v128.xor (local.get $r)
              (v128.xor (v128.and (local.get $v) (v128.const i32x4 0xff000000 0xff000000 0xff000000 0xff000000))
                        (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000)))
            (v128.or (i32x4.shl (local.get $g) (i32.const 8)) (i32x4.shl (local.get $b) (i32.const 16)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))
)
