/// Row-major flat arrays with explicit shapes (batch included): the plumbing of the naive reference implementations
/// that the merge and pooling tests compare built modules against.
module Functional.Tests.NaiveTensors

open TorchSharp

/// A tensor's values in row-major order.
let flat (t: torch.Tensor) = t.contiguous().cpu().data<float32>().ToArray()

/// A tensor's dimensions.
let dimsOf (t: torch.Tensor) = t.shape |> Array.map int

let stridesOf (shape: int[]) =
    let s = Array.create shape.Length 1
    for i in shape.Length - 2 .. -1 .. 0 do s.[i] <- s.[i + 1] * shape.[i + 1]
    s

/// The multi-index of flat position k.
let unravel (shape: int[]) (k: int) =
    let st = stridesOf shape
    Array.init shape.Length (fun i -> (k / st.[i]) % shape.[i])

/// The flat position of a multi-index.
let ravel (shape: int[]) (idx: int[]) = Array.fold2 (fun acc i s -> acc + i * s) 0 idx (stridesOf shape)

/// Equal lengths and every value within 1e-4 relative (float32 accumulation order differs from the reference's).
let close (actual: float32[]) (expected: float32[]) =
    actual.Length = expected.Length
    && Array.forall2 (fun (a: float32) (e: float32) -> abs (a - e) <= 1e-4f * (1.0f + abs e)) actual expected

/// A tensor from row-major values and dimensions.
let tensorOf (data: float32[]) (dims: int64[]) =
    use t = torch.from_array data
    t.reshape dims
