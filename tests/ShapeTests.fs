/// Laws of the pure shape arithmetic (Functional.Shapes.ConvArithmetic) and the Shape value.
module Functional.Tests.ShapeTests

open Expecto
open FsCheck
open FsCheck.FSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Shapes
open Functional.Tests.Support

let private axisCase =
    gen {
        let! n = Gen.choose (1, 4096)
        let! k = Gen.choose (1, 64)
        let! s = Gen.choose (1, 16)
        let! d = Gen.choose (1, 8)
        return n, k, s, d
    } |> Arb.fromGen

[<Tests>]
let tests =
    testList "Shapes" [
        propertyWith pureConfig "same output length = ceil(n/s) for every kernel and dilation" axisCase (fun (n, k, s, d) ->
            ConvArithmetic.ConvOutputLength(n, k, s, Padding.Same, d) = ceilDiv n s)

        propertyWith pureConfig "valid output length = ceil((n - (k-1)d)/s) when the kernel fits, else not positive" axisCase (fun (n, k, s, d) ->
            let eff = (k - 1) * d + 1
            let out = ConvArithmetic.ConvOutputLength(n, k, s, Padding.Valid, d)
            if n >= eff then out = ceilDiv (n - (k - 1) * d) s else out <= 0)

        propertyWith pureConfig "TF same padding: after - before is 0 or 1, and padding then a valid conv gives ceil(n/s)" axisCase (fun (n, k, s, d) ->
            let struct (before, after) = ConvArithmetic.SamePadding(n, k, s, d)
            let padded = n + before + after
            let eff = (k - 1) * d + 1
            before >= 0 && (after - before = 0 || after - before = 1)
            && (padded - eff) / s + 1 = ceilDiv n s)

        test "TF same padding puts the odd element after (bottom/right)" {
            // n=5, k=2, s=1: total 1 → (0, 1); n=6, k=3, s=2: out 3, total max(2*2+3-6,0)=1 → (0, 1).
            Expect.equal (ConvArithmetic.SamePadding(5, 2, 1, 1)) (struct (0, 1)) "k=2"
            Expect.equal (ConvArithmetic.SamePadding(6, 3, 2, 1)) (struct (0, 1)) "k=3 s=2"
            Expect.equal (ConvArithmetic.SamePadding(7, 3, 2, 1)) (struct (1, 1)) "k=3 s=2 odd n"
            Expect.equal (ConvArithmetic.SamePadding(200, 4, 1, 1)) (struct (1, 2)) "k=4"
        }

        propertyWith pureConfig "pooling: valid = floor((n-p)/s)+1, same = ceil(n/s)" axisCase (fun (n, p, s, _) ->
            let v = ConvArithmetic.PoolOutputLength(n, p, s, Padding.Valid)
            ConvArithmetic.PoolOutputLength(n, p, s, Padding.Same) = ceilDiv n s
            && (if n >= p then v = (n - p) / s + 1 else v <= 0))

        test "Shape prints Keras's form and compares by value" {
            Expect.equal (string (Shape(100, 100, 16))) "(None, 100, 100, 16)" "Keras form"
            Expect.equal (Shape(3, 4)) (Shape([| 3; 4 |])) "value equality"
            Expect.equal (Shape(3, 4, 5).Size.Value) 60L "size"
        }

        test "a non-positive dimension is rejected naming the shape" {
            throwsWith<System.ArgumentException> [ "(28, 0, 1)"; "dimension 1" ] (fun () -> Shape(28, 0, 1) |> ignore)
        }

        test "Padding and DataFormat normalise Keras strings and reject unknown ones naming the value" {
            Expect.equal (Padding.Parse "SAME") Padding.Same "case-insensitive"
            Expect.equal (DataFormat.Parse "channels_first") DataFormat.ChannelsFirst "channels_first"
            throwsWith<System.ArgumentException> [ "padding"; "'full'" ] (fun () -> Padding.Parse "full" |> ignore)
            throwsWith<System.ArgumentException> [ "data_format"; "'nhwc'" ] (fun () -> DataFormat.Parse "nhwc" |> ignore)
        }
    ]
