using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch;

/// <summary>Keras's activation functions on tensors.</summary>
public static class ActivationOps
{
    /// <summary>
    /// Applies <paramref name="activation"/>; <paramref name="axis"/> is the tensor axis that softmax-like activations
    /// normalise over (Keras's default, the last logical axis).
    /// </summary>
    public static Tensor Apply(ActivationFunction activation, Tensor x, long axis = -1) => activation.Name switch
    {
        "linear" => x.alias(),
        "relu" => F.relu(x),
        "relu6" => F.relu6(x),
        "sigmoid" => F.sigmoid(x),
        // Keras 3: hard_sigmoid(x) = relu6(x + 3) / 6.
        "hard_sigmoid" => F.relu6(x + 3.0) / 6.0,
        "tanh" => x.tanh(),
        "softmax" => F.softmax(x, axis),
        "log_softmax" => F.log_softmax(x, axis),
        "elu" => F.elu(x, 1.0),
        "selu" => F.selu(x),
        "softplus" => F.softplus(x),
        "softsign" => x / (x.abs() + 1.0),
        "gelu" => F.gelu(x),
        "silu" => F.silu(x),
        "hard_silu" => x * (F.relu6(x + 3.0) / 6.0),
        // Keras's leaky_relu activation uses negative_slope 0.2.
        "leaky_relu" => F.leaky_relu(x, 0.2),
        "exponential" => x.exp(),
        "mish" => x * F.softplus(x).tanh(),
        _ => throw new NotSupportedException($"Activation '{activation.Name}' has no implementation."),
    };

    /// <summary>True when the activation mixes values along an axis (so layout matters).</summary>
    public static bool IsAxisDependent(ActivationFunction activation) => activation.Name is "softmax" or "log_softmax";
}
