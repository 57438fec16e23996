/// Keras's initializers: fans, formulas, defaults, identifiers and validation on the pure records; sampled values
/// checked against the formulas with fixed seeds and large tensors (tolerances many standard errors wide, so the
/// checks hold for any correct sampler, not just for one random stream); seeding, layouts and model rebuilds.
module Functional.Tests.InitializerTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support

/// A tensor's values as doubles, row-major.
let floats (t: torch.Tensor) =
    use d = t.detach().contiguous().cpu().to_type(torch.ScalarType.Float64)
    d.data<float>().ToArray()

let mean (xs: float[]) = Array.average xs
let variance (xs: float[]) = let m = mean xs in xs |> Array.averageBy (fun x -> (x - m) * (x - m))
let stddev xs = sqrt (variance xs)
let closeRel (tol: float) (expected: float) (actual: float) = abs (actual - expected) <= tol * abs expected

/// Keras's compute_fans, written out again.
let naiveFans (shape: int list) =
    match shape with
    | [] -> 1.0, 1.0
    | [ n ] -> float n, float n
    | [ a; b ] -> float a, float b
    | _ ->
        let rf = shape |> List.take (shape.Length - 2) |> List.fold (fun acc d -> acc * float d) 1.0
        float shape.[shape.Length - 2] * rf, float shape.[shape.Length - 1] * rf

/// (class name, seeded constructor, scale, mode, distribution) for Keras's VarianceScaling subclasses.
let namedVarianceScaling : (string * (Nullable<int> -> VarianceScaling) * float * string * string) list =
    [ "GlorotUniform", (fun s -> GlorotUniform(s)), 1.0, "fan_avg", "uniform"
      "GlorotNormal", (fun s -> GlorotNormal(s)), 1.0, "fan_avg", "truncated_normal"
      "LecunUniform", (fun s -> LecunUniform(s)), 1.0, "fan_in", "uniform"
      "LecunNormal", (fun s -> LecunNormal(s)), 1.0, "fan_in", "truncated_normal"
      "HeUniform", (fun s -> HeUniform(s)), 2.0, "fan_in", "uniform"
      "HeNormal", (fun s -> HeNormal(s)), 2.0, "fan_in", "truncated_normal" ]

/// Every identifier keras.initializers.get accepts, and what it gives.
let identifiers : (string * Initializer) list =
    [ "zeros", Zeros(); "Zeros", Zeros(); "zero", Zeros()
      "ones", Ones(); "Ones", Ones(); "one", Ones()
      "constant", Constant(); "Constant", Constant()
      "identity", Identity(); "Identity", Identity()
      "random_normal", RandomNormal(); "RandomNormal", RandomNormal(); "normal", RandomNormal()
      "random_uniform", RandomUniform(); "RandomUniform", RandomUniform(); "uniform", RandomUniform()
      "truncated_normal", TruncatedNormal(); "TruncatedNormal", TruncatedNormal()
      "variance_scaling", VarianceScaling(); "VarianceScaling", VarianceScaling()
      "glorot_uniform", GlorotUniform(); "GlorotUniform", GlorotUniform()
      "glorot_normal", GlorotNormal(); "GlorotNormal", GlorotNormal()
      "lecun_uniform", LecunUniform(); "LecunUniform", LecunUniform()
      "lecun_normal", LecunNormal(); "LecunNormal", LecunNormal()
      "he_uniform", HeUniform(); "HeUniform", HeUniform()
      "he_normal", HeNormal(); "HeNormal", HeNormal()
      "orthogonal", Orthogonal(); "Orthogonal", Orthogonal(); "OrthogonalInitializer", Orthogonal() ]

let private shapeGen =
    gen {
        let! rank = Gen.choose (0, 5)
        return! Gen.listOfLength rank (Gen.choose (1, 40))
    }

let private vsGen =
    gen {
        let! shape = shapeGen
        let! scale = Gen.choose (1, 400) |> Gen.map (fun s -> float s / 100.0)
        let! mode = Gen.elements [ "fan_in"; "fan_out"; "fan_avg" ]
        let! dist = Gen.elements [ "truncated_normal"; "untruncated_normal"; "uniform"; "normal"; "Uniform"; "TRUNCATED_NORMAL" ]
        return shape, scale, mode, dist
    }

[<Tests>]
let pureTests =
    testList "Initializers" [
        propertyWith pureConfig "compute_fans is Keras's: (1,1) scalar, (n,n) vector, (in,out) matrix, receptive field × (in,out) kernel"
            (Arb.fromGen shapeGen) (fun shape ->
                Initializer.ComputeFans(Array.ofList shape).ToTuple() = naiveFans shape)

        test "compute_fans worked examples: Dense (784, 10), Conv2D (3, 3, 64, 128), Conv1D (5, 2, 8)" {
            Expect.equal (Initializer.ComputeFans([| 784; 10 |]).ToTuple()) (784.0, 10.0) "dense"
            Expect.equal (Initializer.ComputeFans([| 3; 3; 64; 128 |]).ToTuple()) (576.0, 1152.0) "conv2d"
            Expect.equal (Initializer.ComputeFans([| 5; 2; 8 |]).ToTuple()) (10.0, 40.0) "conv1d"
        }

        propertyWith pureConfig "VarianceScaling: variance = scale / max(1, n) with n from the mode; truncated stddev divided by 0.87962566103423978; uniform limit √(3v)"
            (Arb.fromGen vsGen) (fun (shape, scale, mode, dist) ->
                let vs = VarianceScaling(scale, mode, dist)
                let fanIn, fanOut = naiveFans shape
                let n = match mode with "fan_in" -> fanIn | "fan_out" -> fanOut | _ -> (fanIn + fanOut) / 2.0
                let v = scale / max 1.0 n
                let expectedDist = match dist.ToLowerInvariant() with "normal" -> "truncated_normal" | d -> d
                let expectedParam =
                    match expectedDist with
                    | "truncated_normal" -> sqrt v / 0.87962566103423978
                    | "untruncated_normal" -> sqrt v
                    | _ -> sqrt (3.0 * v)
                let arr = Array.ofList shape
                vs.Distribution = expectedDist
                && closeRel 1e-12 v (vs.Variance arr)
                && closeRel 1e-12 expectedParam (vs.DistributionParameter arr))

        test "the truncation factor is the stddev of a standard normal truncated to (−2, 2)" {
            let phi2 = exp (-2.0) / sqrt (2.0 * Math.PI)
            // 2Φ(2) − 1 = erf(√2), from a converging series.
            let erf x = 2.0 / sqrt Math.PI * (Seq.init 80 (fun n -> (if n % 2 = 0 then 1.0 else -1.0) * x ** float (2 * n + 1) / (float (2 * n + 1) * (Seq.fold (*) 1.0 (Seq.init n (fun k -> float (k + 1)))))) |> Seq.sum)
            let factor = sqrt (1.0 - 4.0 * phi2 / erf (sqrt 2.0))
            Expect.floatClose Accuracy.veryHigh TruncatedNormal.TruncatedStddevFactor factor "0.8796…"
        }

        test "Glorot, Lecun and He are VarianceScaling with Keras's parameters, under Keras's class names" {
            for name, make, scale, mode, dist in namedVarianceScaling do
                let init = make (Nullable())
                Expect.equal init.ClassName name "class name"
                Expect.equal init.Scale scale (name + " scale")
                Expect.equal init.Mode mode (name + " mode")
                Expect.equal init.Distribution dist (name + " distribution")
                Expect.isNull (box init.Seed) (name + " unseeded by default")
        }

        test "defaults are Keras's" {
            let rn = RandomNormal()
            Expect.equal (rn.Mean, rn.Stddev) (0.0, 0.05) "RandomNormal(0, 0.05)"
            let ru = RandomUniform()
            Expect.equal (ru.Minval, ru.Maxval) (-0.05, 0.05) "RandomUniform(-0.05, 0.05)"
            let tn = TruncatedNormal()
            Expect.equal (tn.Mean, tn.Stddev) (0.0, 0.05) "TruncatedNormal(0, 0.05)"
            let vs = VarianceScaling()
            Expect.equal (vs.Scale, vs.Mode, vs.Distribution) (1.0, "fan_in", "truncated_normal") "VarianceScaling(1, fan_in, truncated_normal)"
            Expect.equal (Orthogonal().Gain) 1.0 "Orthogonal gain"
            Expect.equal (Identity().Gain) 1.0 "Identity gain"
            Expect.equal (Constant().Value) 0.0 "Constant value"
            Expect.equal (Dense(3).KernelInitializer) (GlorotUniform() :> Initializer) "Dense kernel"
            Expect.equal (Dense(3).BiasInitializer) (Zeros() :> Initializer) "Dense bias"
        }

        test "every Keras identifier and alias resolves as keras.initializers.get, as a fresh default instance" {
            for name, expected in identifiers do
                Expect.equal (Initializers.Get name) expected name
                Expect.equal (Initializers.Get name).ClassName (expected.ClassName) (name + " class")
            Expect.equal (Dense(3, kernelInitializer = "he_normal").KernelInitializer) (HeNormal() :> Initializer) "implicit from a string"
            Expect.equal (Initializers.Get "GLOROT_UNIFORM") (GlorotUniform() :> Initializer) "case is ignored here"
            throwsWith<ArgumentException> [ "Could not interpret initializer identifier"; "'typo'" ] (fun () -> Initializers.Get "typo" |> ignore)
            throwsWith<ArgumentException> [ "'xavier_uniform'" ] (fun () -> Initializers.Get "xavier_uniform" |> ignore)
        }

        test "records compare by value: same class, arguments and seed" {
            Expect.equal (HeNormal(seed = 3)) (HeNormal(seed = 3)) "same seed"
            Expect.notEqual (HeNormal(seed = 3)) (HeNormal(seed = 4)) "different seed"
            Expect.notEqual (GlorotUniform() :> VarianceScaling) (VarianceScaling(1.0, "fan_avg", "uniform")) "a subclass is its own class"
        }

        test "VarianceScaling validates as Keras: scale > 0, a known mode (case-sensitive), a known distribution (lower-cased, 'normal' = truncated)" {
            throwsWith<ArgumentException> [ "VarianceScaling"; "Argument `scale` must be positive float"; "scale=-1" ] (fun () -> VarianceScaling(-1.0) |> ignore)
            throwsWith<ArgumentException> [ "scale=0" ] (fun () -> VarianceScaling(0.0) |> ignore)
            throwsWith<ArgumentException> [ "scale=NaN" ] (fun () -> VarianceScaling(nan) |> ignore)
            throwsWith<ArgumentException> [ "Invalid `mode` argument"; "'invalid_mode'"; "'fan_in'"; "'fan_out'"; "'fan_avg'" ] (fun () -> VarianceScaling(2.0, "invalid_mode") |> ignore)
            throwsWith<ArgumentException> [ "Invalid `mode` argument"; "'FAN_IN'" ] (fun () -> VarianceScaling(2.0, "FAN_IN") |> ignore)
            throwsWith<ArgumentException> [ "Invalid `distribution` argument"; "'invalid_dist'"; "'untruncated_normal'" ] (fun () -> VarianceScaling(2.0, "fan_in", "invalid_dist") |> ignore)
            Expect.equal (VarianceScaling(1.0, "fan_in", "Normal").Distribution) "truncated_normal" "normal alias"
            Expect.equal (VarianceScaling(1.0, "fan_in", "UNIFORM").Distribution) "uniform" "lower-cased"
        }

        test "random initializers reject arguments a sampler cannot honour, naming the value" {
            throwsWith<ArgumentException> [ "RandomNormal"; "'stddev'"; "stddev=-1" ] (fun () -> RandomNormal(stddev = -1.0) |> ignore)
            throwsWith<ArgumentException> [ "TruncatedNormal"; "'mean'"; "mean=Infinity" ] (fun () -> TruncatedNormal(mean = infinity) |> ignore)
            throwsWith<ArgumentException> [ "RandomUniform"; "minval=1"; "maxval=0" ] (fun () -> RandomUniform(1.0, 0.0) |> ignore)
            throwsWith<ArgumentException> [ "Orthogonal"; "'gain'"; "gain=NaN" ] (fun () -> Orthogonal(nan) |> ignore)
            throwsWith<ArgumentException> [ "Identity"; "'gain'" ] (fun () -> Identity(infinity) |> ignore)
        }

        test "Identity takes only 2-D weights and Orthogonal at least 2-D, with Keras's messages" {
            throwsWith<ArgumentException> [ "Identity matrix initializer can only be used for 2D matrices"; "shape=(3, 3, 1) of rank 3" ] (fun () -> Identity().CheckShape([| 3; 3; 1 |]))
            throwsWith<ArgumentException> [ "at least two-dimensional"; "shape=(4,) of rank 1" ] (fun () -> Orthogonal().CheckShape([| 4 |]))
            Identity().CheckShape([| 3; 5 |])
            Orthogonal().CheckShape([| 3; 3; 2; 4 |])
        }
    ]

/// The values of a fresh seeded draw.
let sample (init: Initializer) (shape: int list) =
    use t = InitializerSampling.Sample(init, Array.ofList shape)
    floats t

let private bigShape = [ 5; 5; 100; 200 ]   // 500,000 values: fan_in 2,500, fan_out 5,000, fan_avg 3,750

[<Tests>]
let torchTests =
    testSequenced <| testList "Initializers (sampled)" [
        test "Zeros, Ones and Constant fill exactly" {
            torchReady 1
            Expect.allEqual (sample (Zeros()) [ 3; 4 ]) 0.0 "zeros"
            Expect.allEqual (sample (Ones()) [ 2; 3; 4 ]) 1.0 "ones"
            Expect.allEqual (sample (Constant(3.5)) [ 7 ]) 3.5 "constant"
            Expect.allEqual (sample (Constant(-2.0)) []) -2.0 "a scalar weight"
        }

        test "RandomUniform: every value in [minval, maxval), mean and variance of U[a, b)" {
            torchReady 2
            let xs = sample (RandomUniform(-0.3, 0.7, seed = 11)) [ 1000; 1000 ]
            Expect.isGreaterThanOrEqual (Array.min xs) -0.3 "min"
            Expect.isLessThan (Array.max xs) 0.7 "max"
            // Standard errors: mean 2.9e-4, variance 0.09 % of 1/12.
            Expect.isLessThan (abs (mean xs - 0.2)) 5e-3 "mean"
            Expect.isTrue (closeRel 0.02 (1.0 / 12.0) (variance xs)) (sprintf "variance %g" (variance xs))
        }

        test "RandomNormal: mean and stddev as given" {
            torchReady 3
            let xs = sample (RandomNormal(1.0, 2.0, seed = 12)) [ 1000; 1000 ]
            Expect.isLessThan (abs (mean xs - 1.0)) 0.02 "mean (standard error 0.002)"
            Expect.isTrue (closeRel 0.01 2.0 (stddev xs)) (sprintf "stddev %g" (stddev xs))
        }

        test "TruncatedNormal: values within 2 stddev of the mean, re-drawn rather than clipped, stddev 0.8796·stddev" {
            torchReady 4
            let m, s = 0.5, 2.0
            let xs = sample (TruncatedNormal(m, s, seed = 13)) [ 1000; 1000 ]
            let z = xs |> Array.map (fun x -> (x - m) / s)
            Expect.isLessThanOrEqual (z |> Array.map abs |> Array.max) 2.0 "nothing beyond 2 stddev"
            // A clipped normal would put 4.6 % of its values on the bound; the truncated density puts ~0.23 % within 0.02 of it.
            let nearBound = z |> Array.filter (fun v -> abs v >= 1.98) |> Array.length
            Expect.isLessThan (float nearBound / float z.Length) 0.01 "no pile-up at the bound"
            Expect.isLessThan (abs (mean xs - m)) 0.02 "mean"
            Expect.isTrue (closeRel 0.01 (TruncatedNormal.TruncatedStddevFactor * s) (stddev xs)) (sprintf "stddev %g" (stddev xs))
        }

        test "VarianceScaling, every mode × distribution: sample variance = scale / n, with each distribution's bounds" {
            torchReady 5
            let fanIn, fanOut = naiveFans bigShape
            for mode, n in [ "fan_in", fanIn; "fan_out", fanOut; "fan_avg", (fanIn + fanOut) / 2.0 ] do
                for dist in [ "truncated_normal"; "untruncated_normal"; "uniform" ] do
                    let scale = 3.0
                    let v = scale / n
                    let xs = sample (VarianceScaling(scale, mode, dist, seed = 21)) bigShape
                    let label = sprintf "%s/%s" mode dist
                    // Relative standard error of the variance is ≤ 0.2 % here.
                    Expect.isTrue (closeRel 0.02 v (variance xs)) (sprintf "%s: variance %g, expected %g" label (variance xs) v)
                    Expect.isLessThan (abs (mean xs)) (0.01 * sqrt v) (label + " mean")
                    let maxAbs = xs |> Array.map abs |> Array.max
                    match dist with
                    | "uniform" ->
                        let limit = sqrt (3.0 * v)
                        Expect.isLessThanOrEqual maxAbs (limit * (1.0 + 1e-6)) (label + " within the limit")
                        Expect.isGreaterThan maxAbs (0.99 * limit) (label + " reaches the limit")
                    | "truncated_normal" ->
                        Expect.isLessThanOrEqual maxAbs (2.0 * sqrt v / 0.87962566103423978 * (1.0 + 1e-6)) (label + " truncated at 2 stddev")
                    | _ ->
                        // 4.55 % of a normal lies beyond 2σ: an untruncated draw has them.
                        let beyond = xs |> Array.filter (fun x -> abs x > 2.0 * sqrt v) |> Array.length
                        Expect.isTrue (closeRel 0.05 0.0455 (float beyond / float xs.Length)) (label + " not truncated")
        }

        test "Glorot, Lecun and He: Keras's variance and limits on Dense- and Conv-shaped weights" {
            torchReady 6
            for shape in [ [ 800; 600 ]; [ 3; 3; 200; 300 ] ] do
                let fanIn, fanOut = naiveFans shape
                for name, make, scale, mode, dist in namedVarianceScaling do
                    let n = if mode = "fan_in" then fanIn else (fanIn + fanOut) / 2.0
                    let v = scale / n
                    let xs = sample (make (Nullable 7)) shape
                    Expect.isTrue (closeRel 0.02 v (variance xs)) (sprintf "%s %A variance" name shape)
                    let bound = if dist = "uniform" then sqrt (3.0 * v) else 2.0 * sqrt v / 0.87962566103423978
                    Expect.isLessThanOrEqual (xs |> Array.map abs |> Array.max) (bound * (1.0 + 1e-6)) (sprintf "%s %A bound" name shape)
            // Glorot uniform's limit is √(6 / (fan_in + fan_out)).
            let g = GlorotUniform(seed = 1)
            Expect.floatClose Accuracy.veryHigh (g.DistributionParameter([| 784; 10 |])) (sqrt (6.0 / 794.0)) "glorot limit"
            Expect.floatClose Accuracy.veryHigh (HeUniform().DistributionParameter([| 784; 10 |])) (sqrt (6.0 / 784.0)) "he limit"
        }

        test "Orthogonal: the (rows, cols) matrix has orthonormal columns (rows when wider), times the gain" {
            torchReady 7
            for shape in [ [ 64; 32 ]; [ 32; 64 ]; [ 50; 50 ]; [ 3; 3; 16; 32 ]; [ 2; 2; 4; 64 ] ] do
                for gain in [ 1.0; 2.5 ] do
                    use w = InitializerSampling.Sample(Orthogonal(gain, seed = 8), Array.ofList shape)
                    let cols = int64 (List.last shape)
                    use m = w.reshape(-1L, cols).to_type(torch.ScalarType.Float64)
                    let rows = m.shape.[0]
                    use gram = if rows >= cols then m.t().matmul(m) else m.matmul(m.t())
                    use eye = torch.eye(gram.shape.[0], dtype = torch.ScalarType.Float64)
                    use err = (gram / (gain * gain) - eye).abs().max()
                    Expect.isLessThan (err.item<float>()) 1e-5 (sprintf "%A gain %g" shape gain)
        }

        test "Identity: gain · eye(rows, cols), as Keras" {
            torchReady 8
            use w = InitializerSampling.Sample(Identity(2.0), [| 3; 5 |])
            let xs = floats w
            for i in 0 .. 2 do
                for j in 0 .. 4 do
                    Expect.equal xs.[i * 5 + j] (if i = j then 2.0 else 0.0) (sprintf "(%d, %d)" i j)
            throwsWith<ArgumentException> [ "2D matrices"; "(2, 2, 3)" ] (fun () -> InitializerSampling.Sample(Identity(), [| 2; 2; 3 |]) |> ignore)
        }

        test "seeded initializers draw the same values every time, whatever the global generator does; other seeds differ" {
            let seeded : (string * (Nullable<int> -> Initializer)) list =
                [ "RandomNormal", (fun s -> RandomNormal(seed = s)); "RandomUniform", (fun s -> RandomUniform(seed = s))
                  "TruncatedNormal", (fun s -> TruncatedNormal(seed = s)); "Orthogonal", (fun s -> Orthogonal(seed = s))
                  "VarianceScaling", (fun s -> VarianceScaling(seed = s))
                  "VarianceScaling uniform", (fun s -> VarianceScaling(2.0, "fan_out", "uniform", s))
                  "VarianceScaling untruncated", (fun s -> VarianceScaling(0.5, "fan_avg", "untruncated_normal", s)) ]
                @ (namedVarianceScaling |> List.map (fun (name, make, _, _, _) -> name, (fun s -> make s :> Initializer)))
            for name, make in seeded do
                torchReady 100
                let a = sample (make (Nullable 5)) [ 30; 20 ]
                torchReady 200
                use _ = torch.rand(17L)
                let b = sample (make (Nullable 5)) [ 30; 20 ]
                Expect.sequenceEqual b a (name + ": same seed, same values")
                Expect.notEqual (sample (make (Nullable 6)) [ 30; 20 ]) a (name + ": another seed, other values")
        }

        test "unseeded initializers follow torch.manual_seed" {
            torchReady 31
            let a = sample (GlorotUniform()) [ 40; 30 ]
            torchReady 31
            let b = sample (GlorotUniform()) [ 40; 30 ]
            let c = sample (GlorotUniform()) [ 40; 30 ]
            Expect.sequenceEqual b a "same global seed, same values"
            Expect.notEqual c a "the generator moves on"
        }

        test "a rebuilt model with seeded initializers has exactly the same weights, and each Keras view holds the seeded draw" {
            let model () =
                Sequential(
                    Input(6, 6, 2),
                    Conv2D(4, 3, kernelInitializer = HeNormal(seed = 1), biasInitializer = RandomUniform(seed = 2)),
                    Flatten(),
                    Dense(5, kernelInitializer = Orthogonal(seed = 3), biasInitializer = TruncatedNormal(seed = 4)),
                    Dense(3, kernelInitializer = GlorotUniform(seed = 9)))
            torchReady 41
            use a = BuiltNetwork.Build(model ())
            torchReady 42
            use b = BuiltNetwork.Build(model ())
            for wa, wb in Seq.zip a.Weights b.Weights do
                Expect.sequenceEqual (floats wa.Parameter) (floats wb.Parameter) (wa.Name + " identical after a rebuild")
            let specs = model().Layers |> Seq.zip (model().LayerInputShapes) |> Seq.collect (fun (s, l) -> l.Parameters(s)) |> List.ofSeq
            for w, spec in Seq.zip a.Weights specs do
                use view = w.KerasView()
                Expect.sequenceEqual (view.shape |> Array.map int) (spec.Shape.ToKnownArray()) (w.Name + " Keras shape")
                Expect.sequenceEqual (floats view) (sample spec.Initializer (List.ofArray (spec.Shape.ToKnownArray()))) (w.Name + " Keras view = the seeded draw")
        }

        test "the Keras views of depthwise, separable and transposed kernels hold the seeded draws" {
            torchReady 45
            let layers : Layer list =
                [ DepthwiseConv2D((3, 2), depthMultiplier = 2, depthwiseInitializer = RandomNormal(seed = 1))
                  SeparableConv2D(7, (3, 2), depthMultiplier = 2, depthwiseInitializer = RandomUniform(seed = 2), pointwiseInitializer = HeNormal(seed = 3))
                  Conv2DTranspose(6, (3, 2), kernelInitializer = GlorotNormal(seed = 4)) ]
            for layer in layers do
                let model = Sequential(Input(8, 8, 5), layer)
                use built = BuiltNetwork.Build(model)
                let specs = model.Layers.[0].Parameters(model.LayerInputShapes.[0])
                for w, spec in Seq.zip built.Weights specs do
                    use view = w.KerasView()
                    Expect.sequenceEqual (floats view) (sample spec.Initializer (List.ofArray (spec.Shape.ToKnownArray()))) (w.Name + " Keras view = the seeded draw")
        }

        test "Orthogonal and Identity are laid out in Keras's kernel layout inside Dense and Conv2D" {
            torchReady 43
            use m = BuiltNetwork.Build(Sequential(Input(20), Dense(8, kernelInitializer = Orthogonal(seed = 1)), Dense(30, kernelInitializer = Orthogonal()),
                                                Dense(30, kernelInitializer = Identity(3.0))))
            let views = m.Weights |> Seq.filter (fun w -> w.Name.EndsWith "kernel") |> Seq.map (fun w -> w.KerasView().to_type(torch.ScalarType.Float64)) |> List.ofSeq
            let gramErr (k: torch.Tensor) useRows =
                use g = if useRows then k.matmul(k.t()) else k.t().matmul(k)
                use e = torch.eye(g.shape.[0], dtype = torch.ScalarType.Float64)
                (g - e).abs().max().item<float>()
            Expect.isLessThan (gramErr views.[0] false) 1e-5 "(20, 8): orthonormal columns"
            Expect.isLessThan (gramErr views.[1] true) 1e-5 "(8, 30): orthonormal rows"
            use eye = torch.eye(30L, 30L, dtype = torch.ScalarType.Float64) * 3.0
            Expect.sequenceEqual (floats views.[2]) (floats eye) "(30, 30): 3·I"
            use m2 = BuiltNetwork.Build(Sequential(Input(7), Dense(3, kernelInitializer = Identity())))
            use k = (m2.Weights |> Seq.head).KerasView()
            Expect.sequenceEqual (floats k) (floats (torch.eye(7L, 3L))) "(7, 3): eye(7, 3) in Keras's layout"
            // Conv2D: the Keras kernel (3, 3, 4, 8) flattened to (36, 8) has orthonormal columns.
            use c = BuiltNetwork.Build(Sequential(Input(9, 9, 4), Conv2D(8, 3, kernelInitializer = Orthogonal(2.0, seed = 2))))
            use kv = (c.Weights |> Seq.head).KerasView().reshape(-1L, 8L).to_type(torch.ScalarType.Float64) / 2.0
            Expect.isLessThan (gramErr kv false) 1e-5 "conv kernel"
            throwsWith<ArgumentException> [ "Identity matrix initializer can only be used for 2D matrices"; "(3, 3, 4, 8)" ] (fun () ->
                BuiltNetwork.Build(Sequential(Input(9, 9, 4), Conv2D(8, 3, kernelInitializer = Identity()))) |> ignore)
            for v in views do v.Dispose()
        }

        test "Fill checks the layout it is given" {
            torchReady 44
            use t = torch.empty(4L, 6L)
            InitializerSampling.Fill(t, Orthogonal(seed = 1), [| 6; 4 |], [| 1L; 0L |])
            use g = t.matmul(t.t())
            Expect.isTrue (g.allclose(torch.eye(4L), 1e-5, 1e-5)) "filled through the permutation"
            throwsWith<ArgumentException> [ "is not the Keras shape"; "(6, 5)" ] (fun () -> InitializerSampling.Fill(t, Zeros(), [| 6; 5 |], [| 1L; 0L |]))
            // No layout is ever guessed: a tensor of another shape without a permutation is refused, even for an elementwise
            // initializer (a seeded draw would land in the wrong places) and even when the element counts agree.
            use flat = torch.empty(24L)
            throwsWith<ArgumentException> [ "Orthogonal"; "pass the permutation" ] (fun () -> InitializerSampling.Fill(flat, Orthogonal(), [| 6; 4 |], null))
            throwsWith<ArgumentException> [ "RandomNormal"; "(24)"; "(6, 4)" ] (fun () -> InitializerSampling.Fill(flat, RandomNormal(seed = 1), [| 6; 4 |], null))
            throwsWith<ArgumentException> [ "not a permutation" ] (fun () -> InitializerSampling.Fill(t, Zeros(), [| 6; 4 |], [| 0L; 0L |]))
            use same = torch.empty(6L, 4L)
            InitializerSampling.Fill(same, Ones(), [| 6; 4 |], null)
            Expect.allEqual (floats same) 1.0 "null: stored in Keras's layout"
        }
    ]
