/// Keras losses: each against hand-computed values and Keras's docstring examples; names, reductions, weights, errors.
module Functional.Tests.LossTests

open System
open Expecto
open TorchSharp
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training
open Functional.Tests.Support

/// A float32 matrix from rows.
let m (rows: float list list) =
    let r = List.length rows
    let c = List.length (List.head rows)
    torch.tensor(rows |> List.concat |> List.map float32 |> Array.ofList).reshape(int64 r, int64 c)

/// A float32 vector.
let v (xs: float list) = torch.tensor(xs |> List.map float32 |> Array.ofList)

/// An int64 vector.
let labels (xs: int list) = torch.tensor(xs |> List.map int64 |> Array.ofList)

/// Whether two tensors have the same shape and exactly the same values.
let same (a: torch.Tensor) (b: torch.Tensor) = a.shape = b.shape && a.eq(b).all().item<bool>()

let scalar (t: torch.Tensor) = float (t.to_type(torch.ScalarType.Float64).item<float>())
let values (t: torch.Tensor) = t.to_type(torch.ScalarType.Float64).data<float>().ToArray() |> List.ofArray

let close tol (actual: float) (expected: float) what =
    Expect.floatClose { absolute = tol; relative = tol } actual expected what

let closeAll tol (actual: float list) (expected: float list) what =
    Expect.equal actual.Length expected.Length (what + ": length")
    List.iteri2 (fun i a e -> close tol a e (sprintf "%s[%d]" what i)) actual expected

let yt = [ [ 0.; 1. ]; [ 0.; 0. ] ]
let yp = [ [ 0.6; 0.4 ]; [ 0.4; 0.6 ] ]
let yp2 = [ [ 1.; 1. ]; [ 1.; 0. ] ]

[<Tests>]
let tests =
    testSequenced <| testList "Losses" [
        test "mean_squared_error: Keras's example 0.5, weighted 0.25, sum 1.0, none [0.5, 0.5]" {
            torchReady 1
            close 1e-6 (scalar ((MeanSquaredError()).Compute(m yt, m yp2))) 0.5 "mse"
            close 1e-6 (scalar ((MeanSquaredError()).Compute(m yt, m yp2, v [ 0.7; 0.3 ]))) 0.25 "weighted"
            close 1e-6 (scalar ((MeanSquaredError(Reduction.Parse "sum")).Compute(m yt, m yp2))) 1.0 "sum"
            closeAll 1e-6 (values ((MeanSquaredError(Reduction.Parse "none")).Compute(m yt, m yp2))) [ 0.5; 0.5 ] "none"
        }

        test "mean_absolute_error and mean_absolute_percentage_error" {
            torchReady 1
            close 1e-6 (scalar ((MeanAbsoluteError()).Compute(m yt, m yp2))) 0.5 "mae"
            close 1e-6 (scalar ((MeanAbsoluteError()).Compute(m yt, m yp2, v [ 0.7; 0.3 ]))) 0.25 "weighted mae"
            // Keras docstring: y_true [[2,1],[2,3]], y_pred [[1,1],[1,0]] → 50; weighted [0.7, 0.3] → 20.
            let t = m [ [ 2.; 1. ]; [ 2.; 3. ] ]
            close 1e-4 (scalar ((MeanAbsolutePercentageError()).Compute(t, m yp2))) 50.0 "mape"
            close 1e-4 (scalar ((MeanAbsolutePercentageError()).Compute(t, m yp2, v [ 0.7; 0.3 ]))) 20.0 "weighted mape"
            // Division by max(|y|, ε): a zero target gives a huge but finite value.
            let z = scalar ((MeanAbsolutePercentageError()).Compute(m [ [ 0. ] ], m [ [ 1. ] ]))
            close 1e-3 (z / 1e9) 1.0 "100·1/1e-7"
        }

        test "mean_squared_logarithmic_error: log(max(x, ε) + 1), Keras's example 0.240" {
            torchReady 1
            let expected = (Math.Log 2.0 ** 2.0) / 2.0
            close 1e-5 (scalar ((MeanSquaredLogarithmicError()).Compute(m yt, m yp2))) expected "msle"
            close 1e-3 expected 0.240 "Keras prints 0.240"
        }

        test "hinge, squared_hinge and categorical_hinge: 0/1 labels become ±1" {
            torchReady 1
            close 1e-6 (scalar ((Hinge()).Compute(m yt, m yp))) 1.3 "hinge"
            close 1e-6 (scalar ((SquaredHinge()).Compute(m yt, m yp))) 1.86 "squared hinge"
            close 1e-6 (scalar ((CategoricalHinge()).Compute(m yt, m yp))) 1.4 "categorical hinge"
            // Labels already in {−1, 1} are kept as they are.
            let pm = m [ [ -1.; 1. ] ]
            close 1e-6 (scalar ((Hinge()).Compute(pm, m [ [ 0.5; 0.5 ] ]))) ((1.5 + 0.5) / 2.0) "±1 labels"
        }

        test "log_cosh, huber, poisson and kl_divergence match Keras's examples" {
            torchReady 1
            close 1e-3 (scalar ((LogCosh()).Compute(m yt, m [ [ 1.; 1. ]; [ 0.; 0. ] ]))) 0.108 "log_cosh"
            close 1e-6 (scalar ((LogCosh()).Compute(m yt, m [ [ 1.; 1. ]; [ 0.; 0. ] ]))) (Math.Log(Math.Cosh 1.0) / 4.0) "exact"
            close 1e-6 (scalar ((Huber()).Compute(m yt, m yp))) 0.155 "huber"
            close 1e-6 (scalar ((Poisson()).Compute(m yt, m [ [ 1.; 1. ]; [ 0.; 0. ] ]))) 0.5 "poisson"
            let kld = ((1.0 * Math.Log(1.0 / 0.4)) + 1e-7 * Math.Log(1e-7 / 0.6) + 2.0 * 1e-7 * Math.Log(1e-7 / 0.4) * 0.0) / 2.0
            close 1e-4 (scalar ((KLDivergence()).Compute(m yt, m yp))) kld "kld"
            close 1e-3 (scalar ((KLDivergence()).Compute(m yt, m yp))) 0.458 "Keras prints 0.458"
        }

        test "cosine_similarity: −mean of cosines; Keras's example −0.5; cosine_proximity is the same formula" {
            torchReady 1
            let t = m [ [ 0.; 1. ]; [ 1.; 1. ] ]
            let p = m [ [ 1.; 0. ]; [ 1.; 1. ] ]
            close 1e-6 (scalar ((CosineSimilarity()).Compute(t, p))) -0.5 "cosine"
            close 1e-6 (scalar ((Losses.Get "cosine_proximity").Compute(t, p))) -0.5 "alias"
            closeAll 1e-6 (values ((CosineSimilarity(reduction = Reduction.Parse "none")).Compute(m [ [ 0.; 1. ]; [ 1.; 1. ]; [ 1.; 1. ] ], m [ [ 1.; 0. ]; [ 1.; 1. ]; [ -1.; -1. ] ])))
                [ 0.0; -1.0; 1.0 ] "per sample"
        }

        test "binary_crossentropy: Keras's examples, from logits, weights, reductions, label smoothing" {
            torchReady 1
            closeAll 1e-3 (values ((BinaryCrossentropy(reduction = Reduction.Parse "none")).Compute(m yt, m yp))) [ 0.916; 0.714 ] "probabilities"
            let t = m [ [ 0.; 1. ]; [ 0.; 0. ] ]
            let logits = m [ [ -18.6; 0.51 ]; [ 2.94; -12.8 ] ]
            let bce = BinaryCrossentropy(fromLogits = true)
            close 1e-3 (scalar (bce.Compute(t, logits))) 0.8654 "logits"
            close 1e-3 (scalar (bce.Compute(t, logits, v [ 0.8; 0.2 ]))) 0.243 "weighted"
            close 1e-3 (scalar ((BinaryCrossentropy(fromLogits = true, reduction = Reduction.Parse "sum")).Compute(t, logits))) 1.730 "sum"
            closeAll 1e-3 (values ((BinaryCrossentropy(fromLogits = true, reduction = Reduction.Parse "none")).Compute(t, logits))) [ 0.235; 1.496 ] "none"
            close 1e-3 (scalar (bce.Compute(v [ 0.; 1.; 0.; 0. ], v [ -18.6; 0.51; 2.94; -12.8 ]))) 0.8654 "one sample of four"
            // Label smoothing 0.2 squeezes targets to 0.1/0.9: −(0.9·log 0.4 + 0.1·log 0.6) for a 1 predicted 0.4.
            let smoothed = scalar ((BinaryCrossentropy(labelSmoothing = 0.2)).Compute(m [ [ 1. ] ], m [ [ 0.4 ] ]))
            close 1e-5 smoothed (-(0.9 * Math.Log 0.4 + 0.1 * Math.Log 0.6)) "smoothed"
            // Probabilities are clipped to [1e-7, 1 − 1e-7].
            close 1e-3 (scalar ((BinaryCrossentropy()).Compute(m [ [ 1. ] ], m [ [ 0. ] ]))) (-Math.Log 1e-7) "clipped"
        }

        test "categorical and sparse categorical crossentropy: Keras's examples [0.0513, 2.303], weights, smoothing, logits" {
            torchReady 1
            let t = m [ [ 0.; 1.; 0. ]; [ 0.; 0.; 1. ] ]
            let p = m [ [ 0.05; 0.95; 0. ]; [ 0.1; 0.8; 0.1 ] ]
            closeAll 1e-3 (values ((CategoricalCrossentropy(reduction = Reduction.Parse "none")).Compute(t, p))) [ 0.0513; 2.303 ] "cce"
            close 1e-3 (scalar ((CategoricalCrossentropy()).Compute(t, p))) 1.177 "mean"
            close 1e-3 (scalar ((CategoricalCrossentropy()).Compute(t, p, v [ 0.3; 0.7 ]))) 0.814 "weighted"
            close 1e-3 (scalar ((CategoricalCrossentropy(reduction = Reduction.Parse "sum")).Compute(t, p))) 2.354 "sum"
            closeAll 1e-3 (values ((SparseCategoricalCrossentropy(reduction = Reduction.Parse "none")).Compute(labels [ 1; 2 ], p))) [ 0.0513; 2.303 ] "sparse"
            closeAll 1e-3 (values ((SparseCategoricalCrossentropy(reduction = Reduction.Parse "none")).Compute(m [ [ 1. ]; [ 2. ] ], p))) [ 0.0513; 2.303 ] "(N, 1) labels"
            // Smoothing 0.3 over 3 classes: targets 0.1 / 0.8.
            let smoothed = scalar ((CategoricalCrossentropy(labelSmoothing = 0.3)).Compute(m [ [ 0.; 1.; 0. ] ], m [ [ 0.2; 0.5; 0.3 ] ]))
            close 1e-5 smoothed (-(0.1 * Math.Log 0.2 + 0.8 * Math.Log 0.5 + 0.1 * Math.Log 0.3)) "smoothed"
            // From logits: −log softmax.
            let z = [ 1.0; 2.0; 0.5 ]
            let lse = Math.Log(z |> List.sumBy Math.Exp)
            close 1e-5 (scalar ((CategoricalCrossentropy(fromLogits = true)).Compute(m [ [ 0.; 1.; 0. ] ], m [ z ]))) (lse - 2.0) "logits"
            close 1e-5 (scalar ((SparseCategoricalCrossentropy(fromLogits = true)).Compute(labels [ 1 ], m [ z ]))) (lse - 2.0) "sparse logits"
            // Unnormalised probabilities are renormalised first, as Keras does.
            close 1e-5 (scalar ((CategoricalCrossentropy()).Compute(m [ [ 0.; 1. ] ], m [ [ 1.; 3. ] ]))) (-Math.Log 0.75) "renormalised"
        }

        test "sparse_categorical_crossentropy ignore_class leaves those entries out of the sum and the mean" {
            torchReady 1
            let p = m [ [ 0.05; 0.95; 0. ]; [ 0.1; 0.8; 0.1 ] ]
            let l = SparseCategoricalCrossentropy(ignoreClass = Nullable 2)
            close 1e-4 (scalar (l.Compute(labels [ 1; 2 ], p))) (-Math.Log 0.95) "only the first counts"
        }

        test "every loss is usable by Keras's names and aliases, and unknown names are rejected naming them" {
            torchReady 1
            let cases =
                [ "mean_squared_error", typeof<MeanSquaredError>; "mse", typeof<MeanSquaredError>; "MeanSquaredError", typeof<MeanSquaredError>
                  "mae", typeof<MeanAbsoluteError>; "mape", typeof<MeanAbsolutePercentageError>; "msle", typeof<MeanSquaredLogarithmicError>
                  "squared_hinge", typeof<SquaredHinge>; "hinge", typeof<Hinge>; "categorical_hinge", typeof<CategoricalHinge>
                  "binary_crossentropy", typeof<BinaryCrossentropy>; "logcosh", typeof<LogCosh>; "log_cosh", typeof<LogCosh>
                  "categorical_crossentropy", typeof<CategoricalCrossentropy>; "sparse_categorical_crossentropy", typeof<SparseCategoricalCrossentropy>
                  "kullback_leibler_divergence", typeof<KLDivergence>; "kld", typeof<KLDivergence>; "poisson", typeof<Poisson>
                  "cosine_proximity", typeof<CosineSimilarity>; "cosine_similarity", typeof<CosineSimilarity> ]
            for name, ty in cases do
                Expect.equal ((Losses.Get name).GetType()) ty name
            throwsWith<ArgumentException> [ "Could not interpret loss identifier"; "msqe" ] (fun () -> Losses.Get "msqe" |> ignore)
            throwsWith<ArgumentException> [ "reduction"; "avg" ] (fun () -> Reduction.Parse "avg" |> ignore)
            throwsWith<ArgumentException> [ "labelSmoothing"; "1.5" ] (fun () -> BinaryCrossentropy(labelSmoothing = 1.5) |> ignore)
        }

        test "shape mismatches and bad labels are managed errors that name the shapes" {
            torchReady 1
            throwsWith<ArgumentException> [ "MeanSquaredError"; "(2, 2)"; "(2, 3)" ] (fun () ->
                (MeanSquaredError()).Compute(m yt, m [ [ 1.; 2.; 3. ]; [ 1.; 2.; 3. ] ]) |> ignore)
            throwsWith<ArgumentException> [ "SparseCategoricalCrossentropy"; "[0, 3)"; "7" ] (fun () ->
                (SparseCategoricalCrossentropy()).Compute(labels [ 1; 7 ], m [ [ 0.2; 0.3; 0.5 ]; [ 0.2; 0.3; 0.5 ] ]) |> ignore)
            throwsWith<ArgumentException> [ "SparseCategoricalCrossentropy"; "[0, 3)"; "-1" ] (fun () ->
                (SparseCategoricalCrossentropy()).Compute(v [ 1.; -1. ], m [ [ 0.2; 0.3; 0.5 ]; [ 0.2; 0.3; 0.5 ] ]) |> ignore)
            // The check fit runs on each batch's host copy, callable on its own with the predictions' shape.
            throwsWith<ArgumentException> [ "SparseCategoricalCrossentropy"; "[0, 10)"; "12" ] (fun () ->
                (SparseCategoricalCrossentropy()).CheckTargets(labels [ 1; 12 ], [| 2L; 10L |]))
            (SparseCategoricalCrossentropy()).CheckTargets(labels [ 1; 9 ], [| 2L; 10L |])
            throwsWith<ArgumentException> [ "SparseCategoricalCrossentropy"; "NaN" ] (fun () ->
                (SparseCategoricalCrossentropy()).Compute(v [ 1.; nan ], m [ [ 0.2; 0.3; 0.5 ]; [ 0.2; 0.3; 0.5 ] ]) |> ignore)
            throwsWith<ArgumentException> [ "SparseCategoricalCrossentropy"; "(3,)" ] (fun () ->
                (SparseCategoricalCrossentropy()).Compute(labels [ 1; 2; 0 ], m [ [ 0.2; 0.3; 0.5 ]; [ 0.2; 0.3; 0.5 ] ]) |> ignore)
        }

        // compile/fit takes a one-kernel path (nll_loss on Keras's log-probabilities) for unweighted (N, C) predictions.
        testPropertyWithConfig torchConfig "sparse_categorical_crossentropy: the fused mean equals the general path and a naive reference" <|
            fun (n: FsCheck.PositiveInt) (c: FsCheck.PositiveInt) (seed: int) (fromLogits: bool) (floatLabels: bool) ->
                torchReady (abs (seed % 100000))
                let n, c = 1 + n.Get % 12, 2 + c.Get % 9
                let logits = torch.randn(int64 n, int64 c) * 3.0
                let p = if fromLogits then logits else torch.nn.functional.softmax(logits, 1L) * 1.7   // not normalised: Keras renormalises
                let t = torch.randint(0L, int64 c, [| int64 n |])
                let labelsGiven = if floatLabels then t.to_type(torch.ScalarType.Float32).unsqueeze(1L) else t
                let loss = SparseCategoricalCrossentropy(fromLogits = fromLogits)
                let fused = scalar (loss.Compute(labelsGiven, p))
                let general = scalar (loss.Compute(labelsGiven, p, torch.ones(int64 n)))          // weighted path, unit weights
                let perSample = values ((SparseCategoricalCrossentropy(fromLogits = fromLogits, reduction = Reduction.Parse "none")).Compute(t, p))
                let pv = p.to_type(torch.ScalarType.Float64).data<float>().ToArray()
                let tv = t.data<int64>().ToArray()
                let naive =
                    [ for i in 0 .. n - 1 ->
                        let row = pv.[i * c .. i * c + c - 1]
                        let label = int tv.[i]
                        if fromLogits then
                            let mx = Array.max row
                            -(row.[label] - mx - log (row |> Array.sumBy (fun z -> exp (z - mx))))
                        else
                            let q = min (max (row.[label] / Array.sum row) 1e-7) (1.0 - 1e-7)
                            -(log q) ]
                    |> List.average
                close 1e-5 fused general "fused = general"
                close 1e-5 fused (List.average perSample) "fused = mean of per-sample values"
                close 1e-4 fused naive "fused = naive"

        test "a custom per-sample loss from a function is reduced like Keras's LossFunctionWrapper" {
            torchReady 1
            let l = Loss.FromFunction("doubled_mae", Func<_, _, _>(fun (t: torch.Tensor) (p: torch.Tensor) -> (t - p).abs().mean([| -1L |]) * 2.0))
            close 1e-6 (scalar (l.Compute(m yt, m yp2))) 1.0 "2 · mae"
        }
    ]
